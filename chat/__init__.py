"""What users say to the bot and what it says back (docs/design.md, The chat contract).

`chat.parse` turns a text message into one typed intent; `chat.texts` holds every
string the bot sends. Pure functions and constants only: no I/O, no LINE SDK.
"""
