from storage import keys


def test_key_shapes_are_literal():
    assert keys.user("U1") == "usa:user:U1"
    assert keys.push_claim("U1", "2026-11-27", 3) == "usa:push:U1:2026-11-27:3"
    assert keys.webhook_event("01HX") == "usa:event:01HX"
    assert keys.USER_PATTERN == "usa:user:*"
