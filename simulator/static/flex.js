// Flex Messages drawn the way LINE draws them, for the chat page. Plain JavaScript.
// Everything is built as DOM nodes (texts via textContent, never HTML), and every value that
// reaches a style is a known keyword or a checked length or colour: a message can lay itself
// out, nothing more. A component this file does not know draws nothing.
// LineFlex.render(container, onAction) -> element, or null when there is nothing to draw.
"use strict";

var LineFlex = (function () {
  // LINE's keywords, in px.
  var SPACING = {none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20};
  var TEXT_SIZE = {xxs: 11, xs: 13, sm: 14, md: 16, lg: 19, xl: 22, xxl: 29,
                   "3xl": 35, "4xl": 48, "5xl": 74};
  var IMAGE_SIZE = {xxs: 40, xs: 60, sm: 80, md: 100, lg: 120, xl: 140, xxl: 160,
                    "3xl": 180, "4xl": 200, "5xl": 220};
  var BORDER_WIDTH = {none: 0, light: 0.5, normal: 1, medium: 2, "semi-bold": 3, bold: 4};
  var BUBBLE_WIDTH = {nano: 120, micro: 160, deca: 220, hecto: 241, kilo: 260, mega: 300,
                      giga: 500};
  var JUSTIFY = {"flex-start": "flex-start", center: "center", "flex-end": "flex-end",
                 "space-between": "space-between", "space-around": "space-around",
                 "space-evenly": "space-evenly"};
  var ALIGN_ITEMS = {"flex-start": "flex-start", center: "center", "flex-end": "flex-end"};
  var ALIGN_TEXT = {start: "start", center: "center", end: "end"};
  var GRAVITY = {top: "flex-start", center: "center", bottom: "flex-end"};
  var EDGE = {start: "flex-start", center: "center", end: "flex-end"};
  var BLOCKS = ["header", "hero", "body", "footer"];
  var COMPONENTS = {box: box, text: text, separator: separator, filler: filler, spacer: spacer,
                    button: button, image: image};
  var MAX_DEPTH = 30;
  var COLOR = /^#(?:[0-9a-f]{6}|[0-9a-f]{8})$/i;
  var PX = /^\d+(?:\.\d+)?px$/;
  var PX_OR_PERCENT = /^\d+(?:\.\d+)?(?:px|%)$/;
  var RATIO = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/;

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }
  function own(table, key) {
    return typeof key === "string" && Object.prototype.hasOwnProperty.call(table, key);
  }
  function color(value) { return typeof value === "string" && COLOR.test(value) ? value : null; }

  // A keyword from `table` in px, or a px (or, when allowed, %) length; null otherwise.
  function length(value, table, percentToo) {
    if (own(table, value)) return table[value] + "px";
    if (typeof value === "string" && (percentToo ? PX_OR_PERCENT : PX).test(value)) return value;
    return null;
  }

  function element(className) {
    var node = document.createElement("div");
    node.className = className;
    return node;
  }

  // -- containers ---------------------------------------------------------------------------
  function render(container, onAction) {
    if (!isObject(container)) return null;
    var context = {onAction: onAction || function () {}};
    if (container.type === "bubble") return bubble(container, context);
    if (container.type !== "carousel" || !Array.isArray(container.contents)) return null;
    var carousel = element("flex-carousel");
    container.contents.slice(0, 12).forEach(function (item) {
      var node = isObject(item) && item.type === "bubble" ? bubble(item, context) : null;
      if (node) carousel.appendChild(node);
    });
    return carousel.children.length ? carousel : null;
  }

  function bubble(json, context) {
    var size = own(BUBBLE_WIDTH, json.size) ? json.size : "mega";
    var node = element("flex-bubble size-" + size);
    node.style.width = BUBBLE_WIDTH[size] + "px";
    if (json.direction === "rtl") node.dir = "rtl";
    var styles = isObject(json.styles) ? json.styles : {};
    var present = BLOCKS.filter(function (name) { return isObject(json[name]); });
    present.forEach(function (name, index) {
      var allowed = name === "hero" ? ["box", "image"] : ["box"];
      if (allowed.indexOf(json[name].type) < 0) return;
      var content = component(json[name], "vertical", context, 0);
      if (!content) return;
      content.style.flex = "1 0 auto";  // a block's box fills the block (carousels align heights)
      var block = element("flex-block flex-" + name);
      if (name === "body" && present.indexOf("footer") >= 0) block.classList.add("has-footer");
      var style = isObject(styles[name]) ? styles[name] : {};
      if (color(style.backgroundColor)) block.style.backgroundColor = style.backgroundColor;
      if (style.separator === true && index > 0) {
        block.style.borderTop = "1px solid " + (color(style.separatorColor) || "#d4d6da");
      }
      block.appendChild(content);
      node.appendChild(block);
    });
    if (!node.children.length) return null;
    clickable(node, json.action, context);
    return node;
  }

  // -- components -----------------------------------------------------------------------------
  // `parent` is the layout of the box it sits in: vertical, horizontal or baseline.
  function component(json, parent, context, depth) {
    if (!isObject(json) || depth > MAX_DEPTH) return null;
    if (!own(COMPONENTS, json.type)) return null;
    var node = COMPONENTS[json.type](json, parent, context, depth);
    if (node) place(node, json, parent);
    return node;
  }

  // What every component shares: its flex share, its margin, its position.
  function place(node, json, parent) {
    var across = parent !== "vertical";
    var sized = json.type === "box"
      && length(json[across ? "width" : "height"], {}, true) !== null;
    if (json.type === "filler") {
      node.style.flex = flexValue(json.flex, 1, across);
    } else if (sized) {
      node.style.flex = "0 0 auto";  // LINE: a box's own width (height) overrides its flex
    } else if (json.type !== "spacer" && json.type !== "separator") {
      node.style.flex = flexValue(json.flex, across ? 1 : 0, across);
    }
    var margin = length(json.margin, SPACING, false);
    if (margin !== null) {
      node.style[across ? "marginInlineStart" : "marginTop"] = margin;
      node.classList.add("has-margin");
    }
    if (json.position === "absolute") node.style.position = "absolute";
    var offsets = {offsetTop: "top", offsetBottom: "bottom", offsetStart: "insetInlineStart",
                   offsetEnd: "insetInlineEnd"};
    Object.keys(offsets).forEach(function (key) {
      var value = length(json[key], SPACING, true);
      if (value !== null) {
        if (!node.style.position) node.style.position = "relative";
        node.style[offsets[key]] = value;
      }
    });
    if (own(EDGE, json.alignSelf)) node.style.alignSelf = EDGE[json.alignSelf];
  }

  function flexValue(value, fallback, across) {
    var grow = typeof value === "number" && value >= 0 && isFinite(value) ? value : fallback;
    if (grow === 0) return "0 0 auto";
    return grow + " 0 " + (across ? "0" : "auto");
  }

  function box(json, parent, context, depth) {
    var layout = json.layout === "horizontal" || json.layout === "baseline"
      ? json.layout : "vertical";
    var node = element("flex-box " + layout);
    var before = layout === "vertical" ? "marginTop" : "marginInlineStart";
    var spacing = length(json.spacing, SPACING, false);
    var children = Array.isArray(json.contents) ? json.contents : [];
    var previous = null;
    children.forEach(function (child) {
      var childNode = component(child, layout, context, depth + 1);
      if (!childNode) return;
      var spaced = previous && spacing !== null && !childNode.classList.contains("has-margin")
        && child.type !== "filler" && child.type !== "spacer" && previous.type !== "spacer";
      if (spaced) childNode.style[before] = spacing;
      node.appendChild(childNode);
      previous = child;
    });
    var style = node.style;
    if (color(json.backgroundColor)) style.backgroundColor = json.backgroundColor;
    var gradient = json.background;
    if (isObject(gradient) && gradient.type === "linearGradient" && color(gradient.startColor)
        && color(gradient.endColor) && /^-?\d+(?:\.\d+)?deg$/.test(gradient.angle || "")) {
      var stops = [gradient.startColor];
      if (color(gradient.centerColor)) {
        var at = PX_OR_PERCENT.test(gradient.centerPosition || "") ? gradient.centerPosition : "";
        stops.push((gradient.centerColor + " " + at).trim());
      }
      stops.push(gradient.endColor);
      style.backgroundImage = "linear-gradient(" + gradient.angle + ", " + stops.join(", ") + ")";
    }
    var border = length(json.borderWidth, BORDER_WIDTH, false);
    if (border !== null) {
      style.borderStyle = "solid";
      style.borderWidth = border;
      style.borderColor = color(json.borderColor) || "transparent";
    }
    var radius = length(json.cornerRadius, SPACING, false);
    if (radius !== null) style.borderRadius = radius;
    [["width", "width"], ["height", "height"], ["maxWidth", "maxWidth"],
     ["maxHeight", "maxHeight"]].forEach(function (pair) {
      var value = length(json[pair[0]], {}, true);
      if (value !== null) style[pair[1]] = value;
    });
    [["paddingAll", "padding"], ["paddingTop", "paddingTop"],
     ["paddingBottom", "paddingBottom"], ["paddingStart", "paddingInlineStart"],
     ["paddingEnd", "paddingInlineEnd"]].forEach(function (pair) {
      var value = length(json[pair[0]], SPACING, true);
      if (value !== null) style[pair[1]] = value;
    });
    if (own(JUSTIFY, json.justifyContent)) style.justifyContent = JUSTIFY[json.justifyContent];
    if (own(ALIGN_ITEMS, json.alignItems)) style.alignItems = ALIGN_ITEMS[json.alignItems];
    clickable(node, json.action, context);
    return node;
  }

  function text(json, parent, context) {
    var node = element("flex-text");
    var line = document.createElement("p");
    var spans = Array.isArray(json.contents) ? json.contents.filter(function (span) {
      return isObject(span) && span.type === "span" && typeof span.text === "string";
    }) : [];
    if (spans.length) {
      spans.forEach(function (span) {
        var part = document.createElement("span");
        part.textContent = span.text;
        textStyle(part.style, span);
        line.appendChild(part);
      });
    } else if (typeof json.text === "string") {
      line.textContent = json.text;
    } else {
      return null;
    }
    textStyle(node.style, json);
    if (own(ALIGN_TEXT, json.align)) line.style.textAlign = ALIGN_TEXT[json.align];
    if (own(GRAVITY, json.gravity)) node.style.justifyContent = GRAVITY[json.gravity];
    if (json.wrap === true) {
      node.classList.add("wrap");
      if (typeof json.maxLines === "number" && json.maxLines > 0) {
        line.classList.add("clamped");
        line.style.webkitLineClamp = String(Math.floor(json.maxLines));
      }
    }
    node.appendChild(line);
    clickable(node, json.action, context);
    return node;
  }

  // size, colour, weight, style and decoration: a text's or a span's own.
  function textStyle(style, json) {
    var size = length(json.size, TEXT_SIZE, false);
    if (size !== null) style.fontSize = size;
    if (color(json.color)) style.color = json.color;
    if (json.weight === "bold" || json.weight === "regular") {
      style.fontWeight = json.weight === "bold" ? "bold" : "normal";
    }
    if (json.style === "italic" || json.style === "normal") style.fontStyle = json.style;
    if (json.decoration === "underline" || json.decoration === "line-through"
        || json.decoration === "none") style.textDecoration = json.decoration;
  }

  function separator(json, parent) {
    var node = element("flex-separator " + (parent === "vertical" ? "across" : "upright"));
    if (color(json.color)) node.style.borderColor = json.color;
    return node;
  }

  function filler() { return element("flex-filler"); }

  function spacer(json, parent) {
    var node = element("flex-spacer");
    var size = length(json.size, SPACING, false) || SPACING.md + "px";
    node.style[parent === "vertical" ? "height" : "width"] = size;
    return node;
  }

  function button(json, parent, context) {
    var action = isObject(json.action) ? json.action : {};
    var label = typeof action.label === "string" ? action.label : "";
    var look = json.style === "primary" || json.style === "secondary" ? json.style : "link";
    var node = element("flex-button " + look + (json.height === "sm" ? " small" : ""));
    var face = document.createElement("button");
    face.type = "button";
    face.textContent = label;
    var tint = color(json.color);
    if (tint) face.style[look === "link" ? "color" : "backgroundColor"] = tint;
    if (own(GRAVITY, json.gravity)) node.style.justifyContent = GRAVITY[json.gravity];
    node.appendChild(face);
    clickable(face, action, context);
    return node;
  }

  // The simulator keeps everything on this machine: an image is drawn as a placeholder of its
  // size and shape, its URL is never fetched.
  function image(json) {
    var node = element("flex-image");
    var frame = element("frame");
    var size = json.size === "full" ? "100%" : length(json.size || "md", IMAGE_SIZE, true);
    frame.style.width = size || "100px";
    var ratio = RATIO.exec(json.aspectRatio || "1:1") || [null, "1", "1"];
    var wide = Number(ratio[1]), high = Number(ratio[2]);
    if (wide > 0) frame.style.paddingBottom = (100 * high / wide) + "%";
    if (color(json.backgroundColor)) frame.style.backgroundColor = json.backgroundColor;
    if (own(EDGE, json.align)) node.style.alignItems = EDGE[json.align];
    if (own(GRAVITY, json.gravity)) node.style.justifyContent = GRAVITY[json.gravity];
    node.appendChild(frame);
    return node;
  }

  // Taps do what LINE does for the actions the bot can receive: message, postback and
  // datetimepicker (the page's onAction opens the picker).
  var TAPPABLE = ["message", "postback", "datetimepicker"];
  function clickable(node, action, context) {
    if (!isObject(action) || TAPPABLE.indexOf(action.type) < 0) return;
    node.classList.add("tappable");
    node.addEventListener("click", function (event) {
      event.stopPropagation();
      context.onAction(action);
    });
  }

  return {render: render};
})();
