/**
 * The room demo page at `/room`: join a room by name (`/room?room=NAME&mode=p2p|sfu|mcu&name=ME`
 * joins at once; `&token=` is passed to the `authorize` hook), camera and microphone via
 * getUserMedia, the other peers' videos in a grid labelled with their ids, and a chat box.
 * P2P rooms are a full mesh of RTCPeerConnections with chat over data channels; SFU rooms use one
 * PeerConnection to the server's peer `sfu`. Plain HTML and JS (`room-page-script.ts`), no build step.
 */
import type { HttpServer } from './server'
import { ROOM_SCRIPT } from './room-page-script'
import { NAV_CSS, navBar, sendPage } from './nav'

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice room</title>
<style>
  :root { --bg:#0f1419; --panel:#182029; --text:#e6e6e6; --muted:#8a96a3; --accent:#3fb7ff; --bad:#ff6b6b; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
${NAV_CSS}
  header { padding:12px 24px; border-bottom:1px solid #26313d; display:flex; align-items:center; gap:14px; flex-wrap:wrap; }
  form { display:flex; gap:8px; align-items:center; margin:0; }
  input, select, button { font:inherit; color:var(--text); background:#22303d; border:1px solid #2e3d4b; border-radius:6px; padding:6px 10px; }
  button { cursor:pointer; } button:disabled { opacity:.5; cursor:default; }
  main { display:grid; grid-template-columns: 1fr 300px; gap:20px; padding:20px 24px; }
  #tiles { display:grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap:12px; align-content:start; }
  #tiles:empty::before { content:"No video yet: join a room, and your camera and the other peers appear here.";
    grid-column:1 / -1; display:flex; align-items:center; justify-content:center; aspect-ratio:16/9; max-height:60vh; border-radius:10px;
    background:repeating-linear-gradient(135deg, #121a22 0 14px, #141d26 14px 28px); color:var(--muted); padding:20px; text-align:center; }
  figure { margin:0; background:#000; border-radius:10px; overflow:hidden; position:relative; aspect-ratio:16/9; }
  figure video { width:100%; height:100%; object-fit:cover; display:block; }
  figcaption { position:absolute; left:8px; bottom:6px; background:rgba(0,0,0,.55); padding:2px 8px; border-radius:5px; font-size:12px; }
  figure .layers { position:absolute; right:8px; bottom:6px; background:rgba(0,0,0,.55); padding:2px 6px; border-radius:5px; font-size:12px; }
  figure .layers select { padding:0 4px; font-size:12px; }
  aside { display:flex; flex-direction:column; gap:14px; }
  .panel { background:var(--panel); border-radius:10px; padding:14px; }
  .panel h2 { margin:0 0 10px; font-size:13px; text-transform:uppercase; letter-spacing:1px; color:var(--muted); }
  ul { list-style:none; margin:0; padding:0; }
  #peers li { display:flex; justify-content:space-between; gap:8px; padding:3px 0; }
  .meta { color:var(--muted); font-size:12px; }
  #messages { height:280px; overflow-y:auto; margin-bottom:10px; }
  #messages li { padding:3px 0; word-wrap:break-word; }
  #messages b { color:var(--accent); font-weight:600; }
  #chat-form input { flex:1; min-width:0; }
  #status { padding:0 24px; color:var(--muted); min-height:20px; }
  #status.error { color:var(--bad); }
</style>
</head>
<body>
${navBar('room', 'rooms: P2P mesh or SFU over WebRTC')}
<header>
  <form id="join-form">
    <input id="room" placeholder="room name" required maxlength="64">
    <select id="mode"><option value="p2p">P2P (mesh)</option><option value="sfu">SFU (server)</option><option value="mcu">MCU (server mix)</option></select>
    <input id="name" placeholder="your name" maxlength="64">
    <label title="sfu rooms: send the camera in three layers (the server's native port)"><input id="simulcast" type="checkbox"> simulcast</label>
    <button id="join" type="submit">Join</button>
    <button id="leave" type="button" disabled>Leave</button>
  </form>
</header>
<div id="status">Pick a room name and join.</div>
<main>
  <section id="tiles"></section>
  <aside>
    <section class="panel"><h2>Peers</h2><ul id="peers"></ul></section>
    <section class="panel">
      <h2>Chat</h2>
      <ul id="messages"></ul>
      <form id="chat-form"><input id="text" placeholder="say something" maxlength="4000" autocomplete="off"><button type="submit">Send</button></form>
    </section>
  </aside>
</main>
<script>
${ROOM_SCRIPT}
</script>
</body>
</html>
`

/** Serves the room page at `GET /room`. */
export function serveRoomPage(http: HttpServer): void {
  http.route('GET', /^\/room\/?$/, (_req, res) => sendPage(res, PAGE))
}
