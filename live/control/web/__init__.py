"""The control surface in the browser (`live --web`): server (HTTP + WebSocket, preview), guard (token,
Origin), protocol (messages -> actions, the page's description, the state pages show), static/ (the page: no
build step, no CDN).
"""
