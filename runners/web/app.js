// arena serve: the page. Plain JS, no libraries. The server owns every rule: this file only draws what the
// game engine reports (cells, legal moves, results) and sends clicks back as action indices.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

// How each game looks; a game not listed here gets the stone look.
const LOOKS = {
  connect_four: { style: "holes", names: ["Red", "Yellow"], colors: ["#e11d48", "#facc15"], frame: "#1d4ed8" },
  tictactoe: { style: "marks", names: ["X", "O"], colors: ["#2563eb", "#ea580c"], frame: "#ffffff" },
  othello: { style: "discs", names: ["Black", "White"], colors: ["#111827", "#f9fafb"], frame: "#15803d" },
  gomoku: { style: "stones", names: ["Black", "White"], colors: ["#111827", "#f9fafb"], frame: "#e3b35f" },
};
const look = (game) => LOOKS[game] || { style: "stones", names: ["Player 1", "Player 2"], colors: ["#111827", "#f9fafb"], frame: "#e3b35f" };

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the server: every failure shows the server's one-line message

let errorTimer = null;
function showError(message) {
  $("error-text").textContent = message;
  $("error").classList.remove("hidden");
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, 8000);
}
function hideError() { $("error").classList.add("hidden"); }
$("error-close").onclick = hideError;

async function api(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing a board

// Column letters and row numbers for the margins, from the engine's own move names ("d3", "h8").
function coordinates(geo) {
  const [h, w] = geo.board;
  const split = (label) => /^([a-z]+)(\d+)$/.exec(label || "");
  if (geo.actions === "columns") return { cols: geo.labels.slice(0, w), rows: null };
  const cols = [], rows = [];
  for (let c = 0; c < w; c++) { const m = split(geo.labels[c]); cols.push(m ? m[1] : ""); }
  for (let r = 0; r < h; r++) { const m = split(geo.labels[r * w]); rows.push(m ? m[2] : ""); }
  return { cols, rows };
}

// opts: {game, cells, legal, last, visits, clickable, onAction, size}
function drawBoard(container, geo, opts) {
  const [h, w] = geo.board;
  const L = look(opts.game);
  const target = opts.size || 460;
  const s = Math.floor(Math.min(L.style === "marks" ? 120 : 72, target / Math.max(h, w)));
  const columns = geo.actions === "columns";
  const top = columns ? 58 : 22; // room for visit bars above Connect Four, letters elsewhere
  const left = columns ? 8 : 22;
  const bottom = columns ? 26 : 8;
  const width = left + w * s + 8, height = top + h * s + bottom;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${opts.game} board` });
  const legal = new Set(opts.legal || []);
  const visits = opts.visits || null;
  const cx = (c) => left + c * s + s / 2, cy = (r) => top + r * s + s / 2;
  const defs = el("defs", {}, svg);
  for (const [i, color] of L.colors.entries()) {
    const g = el("radialGradient", { id: `stone${i}-${opts.game}`, cx: "35%", cy: "30%", r: "75%" }, defs);
    el("stop", { offset: "0%", "stop-color": i === 0 ? "#6b7280" : "#ffffff" }, g);
    el("stop", { offset: "100%", "stop-color": color }, g);
  }

  // the frame
  if (L.style === "holes") {
    el("rect", { x: left - 4, y: top - 4, width: w * s + 8, height: h * s + 8, rx: 14, fill: L.frame }, svg);
  } else if (L.style === "marks") {
    el("rect", { x: left, y: top, width: w * s, height: h * s, rx: 10, fill: "#ffffff", stroke: "#e2e8f0" }, svg);
    const grid = { stroke: "#334155", "stroke-width": Math.max(2, s * 0.035), "stroke-linecap": "round" };
    for (let i = 1; i < w; i++) el("line", { x1: left + i * s, y1: top + 10, x2: left + i * s, y2: top + h * s - 10, ...grid }, svg);
    for (let i = 1; i < h; i++) el("line", { x1: left + 10, y1: top + i * s, x2: left + w * s - 10, y2: top + i * s, ...grid }, svg);
  } else if (L.style === "discs") {
    el("rect", { x: left, y: top, width: w * s, height: h * s, rx: 6, fill: L.frame }, svg);
    for (let i = 0; i <= w; i++) el("line", { x1: left + i * s, y1: top, x2: left + i * s, y2: top + h * s, stroke: "#0b4d26", "stroke-width": 1.5 }, svg);
    for (let i = 0; i <= h; i++) el("line", { x1: left, y1: top + i * s, x2: left + w * s, y2: top + i * s, stroke: "#0b4d26", "stroke-width": 1.5 }, svg);
  } else {
    el("rect", { x: left, y: top, width: w * s, height: h * s, rx: 6, fill: L.frame }, svg);
    for (let i = 0; i < w; i++) el("line", { x1: cx(i), y1: cy(0), x2: cx(i), y2: cy(h - 1), stroke: "#6b4f24", "stroke-width": 1 }, svg);
    for (let i = 0; i < h; i++) el("line", { x1: cx(0), y1: cy(i), x2: cx(w - 1), y2: cy(i), stroke: "#6b4f24", "stroke-width": 1 }, svg);
    if (h === w && h >= 9) {
      const k = h >= 13 ? 3 : 2, m = Math.floor(h / 2);
      for (const r of [k, m, h - 1 - k]) for (const c of [k, m, w - 1 - k]) el("circle", { cx: cx(c), cy: cy(r), r: 3, fill: "#6b4f24" }, svg);
    }
  }

  // margins: column and row names
  const names = coordinates(geo);
  for (let c = 0; c < w; c++) {
    const y = columns ? top + h * s + 19 : top - 7;
    el("text", { x: cx(c), y, "text-anchor": "middle", "font-size": 12, fill: "#64748b" }, svg).textContent = names.cols[c];
  }
  if (names.rows) for (let r = 0; r < h; r++) {
    el("text", { x: left - 7, y: cy(r) + 4, "text-anchor": "end", "font-size": 12, fill: "#64748b" }, svg).textContent = names.rows[r];
  }

  // pieces
  const lastCell = opts.last && opts.last.cell;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const owner = opts.cells[r][c];
    const isLast = lastCell && lastCell[0] === r && lastCell[1] === c;
    if (L.style === "holes") {
      if (owner < 0) el("circle", { cx: cx(c), cy: cy(r), r: s * 0.39, fill: "#eef2fb", stroke: "#1e40af", "stroke-width": 2 }, svg);
      else {
        el("circle", { cx: cx(c), cy: cy(r), r: s * 0.39, fill: L.colors[owner], stroke: owner ? "#b45309" : "#9f1239", "stroke-width": 3 }, svg);
        el("circle", { cx: cx(c), cy: cy(r), r: s * 0.26, fill: "none", stroke: "rgba(255,255,255,0.28)", "stroke-width": 3 }, svg);
      }
      if (isLast) el("circle", { cx: cx(c), cy: cy(r), r: s * 0.43, fill: "none", stroke: "#ffffff", "stroke-width": 3.5 }, svg);
    } else if (L.style === "marks") {
      if (isLast) el("rect", { x: left + c * s + 8, y: top + r * s + 8, width: s - 16, height: s - 16, rx: 10, fill: "#fef9c3" }, svg);
      const d = s * 0.27;
      if (owner === 0) {
        const pen = { stroke: L.colors[0], "stroke-width": s * 0.09, "stroke-linecap": "round" };
        el("line", { x1: cx(c) - d, y1: cy(r) - d, x2: cx(c) + d, y2: cy(r) + d, ...pen }, svg);
        el("line", { x1: cx(c) + d, y1: cy(r) - d, x2: cx(c) - d, y2: cy(r) + d, ...pen }, svg);
      } else if (owner === 1) {
        el("circle", { cx: cx(c), cy: cy(r), r: d * 1.1, fill: "none", stroke: L.colors[1], "stroke-width": s * 0.09 }, svg);
      }
    } else if (owner >= 0) {
      const fill = L.style === "stones" ? `url(#stone${owner}-${opts.game})` : L.colors[owner];
      el("circle", { cx: cx(c), cy: cy(r), r: s * (L.style === "stones" ? 0.45 : 0.4), fill, stroke: owner ? "#9ca3af" : "#000", "stroke-width": 1 }, svg);
      if (isLast) el("circle", { cx: cx(c), cy: cy(r), r: Math.max(3, s * 0.1), fill: "#ef4444" }, svg);
    }
  }

  // what the search thought: bars over the columns, or shares on the cells
  if (visits) {
    const best = Math.max(...visits);
    for (let a = 0; a < visits.length; a++) {
      const share = visits[a];
      if (columns) {
        if (a >= w) continue;
        const barH = best > 0 ? 26 * (share / best) : 0;
        if (share > 0) el("rect", { x: cx(a) - s * 0.3, y: top - 10 - barH, width: s * 0.6, height: Math.max(barH, 1.5), rx: 3, fill: share === best ? "#f59e0b" : "#fcd34d" }, svg);
        el("text", { x: cx(a), y: top - 14 - barH, "text-anchor": "middle", "font-size": 11, fill: "#475569", class: "visit" }, svg).textContent = share >= 0.005 ? `${Math.round(share * 100)}%` : "";
      } else if (a < h * w && share >= 0.01) {
        const r = Math.floor(a / w), c = a % w;
        const empty = opts.cells[r][c] < 0;
        if (empty) el("circle", { cx: cx(c), cy: cy(r), r: s * (0.14 + 0.3 * Math.sqrt(share / best)), fill: "rgba(245, 158, 11, 0.35)" }, svg);
        const dark = !empty && L.style !== "marks" && opts.cells[r][c] === 0;
        el("text", { x: cx(c), y: cy(r) + 4, "text-anchor": "middle", "font-size": Math.max(9, Math.min(13, s * 0.3)), "font-weight": 700, fill: dark ? "#fde68a" : "#78350f", class: "visit" }, svg).textContent = `${Math.round(share * 100)}${s >= 48 ? "%" : ""}`;
      }
    }
  }

  // hover ghosts and click targets on legal moves
  if (opts.clickable) {
    const me = opts.mover;
    if (columns) {
      for (let c = 0; c < w; c++) {
        if (!legal.has(c)) continue;
        const hit = el("rect", { x: left + c * s + 2, y: top - 2, width: s - 4, height: h * s + 4, rx: 10, fill: "transparent", "stroke-width": 2.5, class: "hit", "data-action": c }, svg);
        // an outline, not a wash: the discs keep their colours under the pointer
        hit.addEventListener("mouseenter", () => { hit.setAttribute("stroke", "rgba(255,255,255,0.85)"); hit.setAttribute("fill", "rgba(255,255,255,0.06)"); });
        hit.addEventListener("mouseleave", () => { hit.setAttribute("stroke", "none"); hit.setAttribute("fill", "transparent"); });
        hit.addEventListener("click", () => opts.onAction(c));
      }
    } else {
      for (const a of legal) {
        if (a >= h * w) continue;
        const r = Math.floor(a / w), c = a % w;
        const g = el("g", { class: "hit", "data-action": a }, svg);
        el("rect", { x: left + c * s, y: top + r * s, width: s, height: s, fill: "transparent" }, g);
        if (L.style === "discs") el("circle", { cx: cx(c), cy: cy(r), r: s * 0.1, fill: "rgba(0,0,0,0.25)" }, g);
        const ghost = el("circle", { cx: cx(c), cy: cy(r), r: s * 0.36, fill: L.colors[me] || "#000", opacity: 0 }, g);
        g.addEventListener("mouseenter", () => ghost.setAttribute("opacity", L.style === "marks" ? 0.15 : 0.45));
        g.addEventListener("mouseleave", () => ghost.setAttribute("opacity", 0));
        g.addEventListener("click", () => opts.onAction(a));
      }
    }
  }
  container.replaceChildren(svg);
}

// ---------------------------------------------------------------------------------------------------------------
// Play

const play = { games: {}, view: null, busy: false };

function gameInfo(name) { return play.games[name]; }

function fillGameSelect(select, names) {
  select.replaceChildren(...names.map((n) => new Option(n.replace("_", " "), n)));
}

function chooseGame(name) {
  const info = gameInfo(name);
  $("opponent").value = info.default;
  $("opponents").replaceChildren(...info.opponents.map((spec) => new Option(spec)));
  const sized = "size" in info.options;
  $("size-row").classList.toggle("hidden", !sized);
  if (sized) $("size").value = info.options.size;
}

function settings() {
  const game = $("game").value;
  const body = { game, opponent: $("opponent").value.trim(), human: Number($("side").value) };
  if (!$("size-row").classList.contains("hidden") && $("size").value) body.options = { size: Number($("size").value) };
  return body;
}

async function newGame() {
  const body = settings();
  const v = play.view;
  const same = v && v.game === body.game && v.opponent === body.opponent &&
    JSON.stringify((body.options || {}).size ?? null) === JSON.stringify(v.options.size ?? null);
  await act(async () => {
    // the same opponent keeps its loaded agent; anything else is a new session
    show(same ? await api("POST", `/api/play/${v.id}/new`, { human: body.human }) : await api("POST", "/api/play", body));
  });
}

// Runs one user action: no two at once, errors to the banner, then lets the agent move if it is its turn.
async function act(work) {
  if (play.busy) return;
  play.busy = true;
  hideError();
  try { await work(); } catch (e) { showError(e.message); } finally { play.busy = false; }
  await agentTurn();
}

async function agentTurn() {
  const v = play.view;
  if (!v || v.over || v.to_move === v.human || play.busy) return;
  play.busy = true;
  showStatus(v, true);
  try { show(await api("POST", `/api/play/${v.id}/agent`)); }
  catch (e) { showError(e.message); showStatus(play.view, false); }
  finally { play.busy = false; }
}

function showStatus(v, thinking) {
  const L = look(v.game);
  const status = $("status");
  status.classList.toggle("over", v.over);
  if (thinking) {
    status.innerHTML = `<span class="spinner"></span> ${esc(v.agent)} is thinking…`;
  } else if (v.over) {
    status.textContent = v.winner === null ? "Draw." : v.winner === v.human ? `You win (${L.names[v.winner]}).` : `${v.agent} wins (${L.names[v.winner]}).`;
  } else if (v.to_move === v.human) {
    status.textContent = `Your move: you are ${L.names[v.human]}.`;
  } else {
    status.textContent = `${v.agent} to move.`;
  }
  status.dataset.state = thinking ? "thinking" : v.over ? "over" : v.to_move === v.human ? "your-move" : "agent";
}

function show(v) {
  play.view = v;
  const L = look(v.game);
  const yourTurn = !v.over && v.to_move === v.human;
  const search = v.search;
  drawBoard($("board"), v, {
    game: v.game, cells: v.cells, legal: yourTurn ? v.legal : [], last: v.last, mover: v.human,
    visits: $("show-visits").checked && search ? search.visits : null, clickable: yourTurn,
    onAction: (a) => humanMove(a),
  });
  showStatus(v, false);
  $("pass").classList.toggle("hidden", !(yourTurn && v.pass !== null && v.legal.includes(v.pass)));
  $("last-move").textContent = v.last ? `Last move: ${L.names[v.last.by]} ${v.last.text}` + (v.plies ? ` (ply ${v.plies})` : "") : "";
  $("moves").value = v.moves;
  $("undo").disabled = v.plies === 0;

  // players, each with the search's chance for them
  const chance = search && search.win;
  $("players").innerHTML = [0, 1].map((p) => `
    <div class="player${v.to_move === p ? " to-move" : ""}">
      <span class="swatch" style="background:${L.colors[p]}"></span>
      <span class="who">${esc(L.names[p])} ${p === 0 ? "(first)" : "(second)"}<small>${p === v.human ? "you" : esc(v.agent)}</small></span>
      <span class="chance" data-player="${p}">${chance ? Math.round(chance[p] * 100) + "%" : ""}</span>
    </div>`).join("");

  const bar = $("winbar");
  if (chance) {
    bar.classList.remove("hidden");
    bar.innerHTML = [0, 1].map((p) => {
      const pct = Math.round(chance[p] * 100);
      const ink = L.colors[p] === "#f9fafb" || L.colors[p] === "#facc15" ? "#1e293b" : "#fff";
      return `<div style="width:${chance[p] * 100}%;background:${L.colors[p]};color:${ink}">${pct >= 12 ? `${esc(L.names[p])} ${pct}%` : ""}</div>`;
    }).join("");
  } else bar.classList.add("hidden");

  const note = $("search-note");
  const list = $("top-moves");
  if (!search) {
    const moved = v.plies > (v.human === 0 ? 1 : 0); // the agent has had a turn
    note.textContent = moved ? `${v.agent} reports no search (no visit shares or value).` : `${v.agent} has not moved yet.`;
    list.replaceChildren();
  } else {
    const value = search.value === null ? "" : ` Its value for ${L.names[search.by]}: ${search.value >= 0 ? "+" : ""}${search.value.toFixed(2)}${search.proven ? " (proven)" : ""}.`;
    note.textContent = `Before its move ${search.ply + 1}: visit shares of ${v.agent}'s search.${value} Chances count a draw as half.`;
    const played = search.played;
    const ranked = (search.visits || []).map((share, a) => [a, share]).filter(([, x]) => x > 0).sort((x, y) => y[1] - x[1]).slice(0, 6);
    const best = ranked.length ? ranked[0][1] : 1;
    list.innerHTML = ranked.map(([a, share]) => `
      <li${played === a ? ' class="played"' : ""}><span>${esc(v.labels[a])}</span><span class="bar" style="width:${(share / best) * 100}%"></span><span class="pct">${(share * 100).toFixed(1)}%</span></li>`).join("");
  }
}

function humanMove(action) {
  act(async () => show(await api("POST", `/api/play/${play.view.id}/move`, { action })));
}

$("game").onchange = () => chooseGame($("game").value);
$("new-game").onclick = newGame;
$("undo").onclick = () => play.view && act(async () => show(await api("POST", `/api/play/${play.view.id}/undo`)));
$("swap").onclick = () => play.view && act(async () => {
  const v = await api("POST", `/api/play/${play.view.id}/swap`);
  $("side").value = String(v.human);
  show(v);
});
$("pass").onclick = () => play.view && humanMove(play.view.pass);
$("load").onclick = () => play.view && act(async () => show(await api("POST", `/api/play/${play.view.id}/load`, { moves: $("moves").value })));
$("copy").onclick = async () => {
  const text = $("moves").value;
  try { await navigator.clipboard.writeText(text); }
  catch (_) { $("moves").select(); document.execCommand("copy"); }
  $("copy").textContent = "Copied";
  setTimeout(() => { $("copy").textContent = "Copy"; }, 1200);
};
$("show-visits").onchange = () => play.view && show(play.view);

// ---------------------------------------------------------------------------------------------------------------
// Charts (SVG, no library)

function niceTicks(lo, hi, count = 5, integer = false) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
  const raw = Math.max((hi - lo) / count, integer ? 1 : 0);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw && (!integer || Number.isInteger(x)));
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

function fmt(x) {
  const a = Math.abs(x);
  if (a >= 1e6) return (x / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (x / 1e3).toFixed(0) + "k";
  if (a >= 100 || Number.isInteger(x)) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

// lines: [{name, xs, ys, color}] (ys may hold nulls); returns an SVG element
function lineChart(lines, { width = 460, height = 230, xlabel = "", title = "" } = {}) {
  const m = { l: 52, r: 12, t: title ? 24 : 10, b: 34 };
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  const xs = lines.flatMap((l) => l.xs), ys = lines.flatMap((l) => l.ys).filter((y) => y !== null && Number.isFinite(y));
  if (title) el("text", { x: m.l, y: 15, "font-size": 12, "font-weight": 600, fill: "#334155" }, svg).textContent = title;
  if (!xs.length || !ys.length) {
    el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#94a3b8", "font-size": 13 }, svg).textContent = "no data yet";
    return svg;
  }
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const pad = (y1 - y0) * 0.06; y0 -= pad; y1 += pad;
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (y) => height - m.b - ((y - y0) / (y1 - y0)) * (height - m.t - m.b);
  for (const t of niceTicks(y0, y1, 4)) {
    el("line", { x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t), stroke: "#eef2f7" }, svg);
    el("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end", "font-size": 11, fill: "#64748b" }, svg).textContent = fmt(t);
  }
  for (const t of niceTicks(x0, x1, 5, xs.every(Number.isInteger))) {
    el("text", { x: X(t), y: height - m.b + 15, "text-anchor": "middle", "font-size": 11, fill: "#64748b" }, svg).textContent = fmt(t);
  }
  el("line", { x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b, stroke: "#cbd5e1" }, svg);
  if (xlabel) el("text", { x: (m.l + width - m.r) / 2, y: height - 4, "text-anchor": "middle", "font-size": 11, fill: "#64748b" }, svg).textContent = xlabel;
  for (const line of lines) {
    let d = "", pen = false;
    line.xs.forEach((x, i) => {
      const y = line.ys[i];
      if (y === null || !Number.isFinite(y)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
      pen = true;
    });
    el("path", { d, fill: "none", stroke: line.color, "stroke-width": 2, "stroke-linejoin": "round" }, svg);
    if (line.xs.length <= 40) line.xs.forEach((x, i) => {
      if (line.ys[i] !== null) el("circle", { cx: X(x), cy: Y(line.ys[i]), r: 2.5, fill: line.color }, svg);
    });
  }
  return svg;
}

// Elo with 95% error bars, strongest on top (the page's ratings.png)
function ratingPlot(rows, colors) {
  const width = 460, rowH = 30, m = { l: 150, r: 20, t: 8, b: 30 };
  const height = m.t + m.b + rowH * Math.max(rows.length, 1);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  if (!rows.length) {
    el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#94a3b8", "font-size": 13 }, svg).textContent = "no rated games yet";
    return svg;
  }
  const lo = Math.min(...rows.map((r) => r.elo - (r.ci95 ?? 0))), hi = Math.max(...rows.map((r) => r.elo + (r.ci95 ?? 0)));
  const span = hi - lo || 100;
  const x0 = lo - span * 0.05, x1 = hi + span * 0.05;
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (width - m.l - m.r);
  for (const t of niceTicks(x0, x1, 5)) {
    el("line", { x1: X(t), x2: X(t), y1: m.t, y2: height - m.b, stroke: "#eef2f7" }, svg);
    el("text", { x: X(t), y: height - m.b + 15, "text-anchor": "middle", "font-size": 11, fill: "#64748b" }, svg).textContent = fmt(t);
  }
  el("text", { x: (m.l + width - m.r) / 2, y: height - 3, "text-anchor": "middle", "font-size": 11, fill: "#64748b" }, svg).textContent = "Elo (95% interval)";
  rows.forEach((r, i) => {
    const y = m.t + rowH * i + rowH / 2, color = colors[r.agent];
    const name = r.agent.length > 22 ? r.agent.slice(0, 21) + "…" : r.agent;
    el("text", { x: m.l - 8, y: y + 4, "text-anchor": "end", "font-size": 12, fill: "#1e293b" }, svg).textContent = name;
    const ci = r.ci95 ?? 0;
    el("line", { x1: X(r.elo - ci), x2: X(r.elo + ci), y1: y, y2: y, stroke: color, "stroke-width": 2.5 }, svg);
    for (const e of [r.elo - ci, r.elo + ci]) el("line", { x1: X(e), x2: X(e), y1: y - 6, y2: y + 6, stroke: color, "stroke-width": 2 }, svg);
    el("circle", { cx: X(r.elo), cy: y, r: 5, fill: color }, svg);
  });
  return svg;
}

// ---------------------------------------------------------------------------------------------------------------
// Watch

const watch = { name: null, source: null, games: [], colors: {}, replay: null, wanted: null, frame: 0, fetching: Promise.resolve() };

async function loadLedgers() {
  try {
    const { tournaments } = await api("GET", "/api/tournaments");
    $("ledgers").innerHTML = tournaments.length ? tournaments.map((t) => `
      <li data-name="${esc(t.name)}" class="${t.name === watch.name ? "active" : ""}">${esc(t.name)}<small>${t.running ? "playing now" : new Date(t.modified * 1000).toLocaleString()}</small></li>`).join("")
      : '<li class="muted">No ledgers under runs/ yet.</li>';
    for (const li of $("ledgers").querySelectorAll("li[data-name]")) li.onclick = () => openTournament(li.dataset.name);
  } catch (e) { showError(e.message); }
}

function openTournament(name) {
  if (watch.source) watch.source.close();
  watch.name = name; watch.games = []; watch.colors = {}; watch.replay = null; watch.wanted = null;
  for (const id of ["games", "replay-board"]) $(id).replaceChildren();
  for (const id of ["replay-title", "replay-text"]) $(id).textContent = "";
  $("t-title").textContent = name;
  for (const li of $("ledgers").querySelectorAll("li")) li.classList.toggle("active", li.dataset.name === name);
  const source = new EventSource(`/api/tournaments/${encodeURIComponent(name)}/events`);
  watch.source = source;
  source.addEventListener("standings", (event) => { if (watch.source === source) showReport(JSON.parse(event.data)); });
  source.addEventListener("done", () => { source.close(); loadLedgers(); });
  source.onerror = () => {
    // a ledger that vanished: say so once and stop retrying
    if (source.readyState === EventSource.CLOSED) showError(`lost the live feed of ${name}`);
  };
}

function colorOf(name) {
  if (!(name in watch.colors)) watch.colors[name] = PALETTE[Object.keys(watch.colors).length % PALETTE.length];
  return watch.colors[name];
}

async function showReport(report) {
  for (const p of report.players) colorOf(p);
  const job = report.job;
  $("t-title").textContent = `${report.name}: ${report.game ? report.game.replace("_", " ") + ", " : ""}${report.games} games` +
    (job ? (job.running ? ` of ${job.total}, playing…` : job.error ? " (stopped by an error)" : job.stopped ? " (stopped)" : " (finished)") : "");
  $("t-job").textContent = job && job.error ? `error: ${job.error}` : job ? `${job.played} of ${job.total} games` : "";
  if (job && job.error) showError(job.error);

  const rows = report.ratings;
  $("ratings").innerHTML = `<tr><th>#</th><th class="name">agent</th><th>Elo</th><th>95%</th><th>games</th><th>score</th><th>LOS next</th></tr>` +
    rows.map((r) => `<tr><td>${r.rank}</td><td class="name"><span class="swatch" style="display:inline-block;width:10px;height:10px;background:${colorOf(r.agent)};margin-right:6px"></span>${esc(r.agent)}</td>
      <td>${r.elo.toFixed(0)}</td><td>±${r.ci95 === null ? "∞" : r.ci95.toFixed(0)}</td><td>${r.games}</td><td>${r.score === null ? "" : r.score.toFixed(3)}</td>
      <td>${r.los_next === null ? "" : (r.los_next * 100).toFixed(1) + "%"}</td></tr>`).join("") +
    (report.unrated.length ? `<tr><td></td><td class="name muted" colspan="6">not rated yet: ${report.unrated.map(esc).join(", ")}</td></tr>` : "");
  $("rating-plot").replaceChildren(ratingPlot(rows, watch.colors));

  const hist = report.history;
  const lines = Object.entries(hist.elo).map(([name, ys]) => ({ name, xs: hist.games, ys, color: colorOf(name) }));
  const chart = lineChart(lines, { xlabel: "games played" });
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = lines.map((l) => `<span style="--c:${l.color}">${esc(l.name)}</span>`).join("");
  $("history-plot").replaceChildren(chart, legend);

  const cross = report.crosstable;
  $("cross").innerHTML = cross.length ? `<tr>${cross[0].map((h, i) => `<th class="${i ? "" : "name"}">${esc(h)}</th>`).join("")}</tr>` +
    cross.slice(1).map((row) => `<tr>${row.map((cell, i) => `<td class="${i === 0 ? "name" : cell === "" ? "self" : ""}">${esc(cell)}</td>`).join("")}</tr>`).join("") : "";

  // the games list grows; fetch only what is new, one fetch at a time (events can come faster than replies)
  watch.fetching = watch.fetching.then(() => fetchGames(report.name));
  await watch.fetching;
}

async function fetchGames(name) {
  try {
    const { games } = await api("GET", `/api/tournaments/${encodeURIComponent(name)}/games?since=${watch.games.length}`);
    if (name !== watch.name) return;
    watch.games.push(...games);
    const list = $("games");
    for (const g of games) {
      const li = document.createElement("li");
      li.dataset.index = g.index;
      li.innerHTML = `${g.index + 1}. ${esc(g.first)} – ${esc(g.second)} <b>${esc(g.result)}</b> <span class="muted">${g.plies} plies</span>`;
      li.onclick = () => openReplay(g.index);
      list.appendChild(li);
    }
    if (games.length && watch.wanted === null) openReplay(watch.games.length - 1); // show something at once
  } catch (e) { showError(e.message); }
}

async function openReplay(index) {
  watch.wanted = index;
  try {
    const data = await api("GET", `/api/tournaments/${encodeURIComponent(watch.name)}/games/${index}`);
    if (watch.wanted !== index) return; // the user asked for another game meanwhile
    watch.replay = data;
    for (const li of $("games").querySelectorAll("li")) li.classList.toggle("active", Number(li.dataset.index) === index);
    const r = data.record;
    $("replay-title").textContent = `${r.first} (first) – ${r.second}: ${r.result}`;
    $("r-slider").max = data.frames.length - 1;
    showFrame(data.frames.length - 1);
  } catch (e) { showError(e.message); }
}

function showFrame(i) {
  const data = watch.replay;
  if (!data) return;
  watch.frame = Math.max(0, Math.min(i, data.frames.length - 1));
  const f = data.frames[watch.frame];
  drawBoard($("replay-board"), data, { game: data.game, cells: f.cells, last: { cell: f.last }, size: 300 });
  $("r-slider").value = watch.frame;
  $("replay-text").textContent = `${f.text} (${watch.frame} of ${data.frames.length - 1})`;
}

$("r-first").onclick = () => showFrame(0);
$("r-prev").onclick = () => showFrame(watch.frame - 1);
$("r-next").onclick = () => showFrame(watch.frame + 1);
$("r-last").onclick = () => watch.replay && showFrame(watch.replay.frames.length - 1);
$("r-slider").oninput = () => showFrame(Number($("r-slider").value));
document.addEventListener("keydown", (e) => {
  if ($("view-watch").classList.contains("hidden") || !watch.replay || /INPUT|TEXTAREA|SELECT/.test(e.target.tagName)) return;
  if (e.key === "ArrowLeft") showFrame(watch.frame - 1);
  if (e.key === "ArrowRight") showFrame(watch.frame + 1);
});

$("t-start").onclick = async () => {
  hideError();
  const body = {
    game: $("t-game").value,
    agents: $("t-agents").value.split("\n").map((s) => s.trim()).filter(Boolean),
    games: Number($("t-games").value),
  };
  try {
    const job = await api("POST", "/api/tournaments", body);
    await loadLedgers();
    openTournament(job.name);
  } catch (e) { showError(e.message); }
};
$("t-stop").onclick = async () => {
  if (!watch.name) return;
  try { await api("POST", `/api/tournaments/${encodeURIComponent(watch.name)}/stop`); } catch (e) { showError(e.message); }
};

// ---------------------------------------------------------------------------------------------------------------
// Runs

async function loadRuns() {
  try {
    const { runs, folder } = await api("GET", "/api/runs");
    $("runs").innerHTML = runs.length ? runs.map((r) => `
      <li data-name="${esc(r.name)}">${esc(r.name)}<small>${esc([r.algo, r.game].filter(Boolean).join(" · "))}${r.checkpoints ? ` · ${r.checkpoints} checkpoints` : ""}</small></li>`).join("")
      : `<li class="muted">No run dirs with metrics.jsonl under ${esc(folder)}/.</li>`;
    for (const li of $("runs").querySelectorAll("li[data-name]")) li.onclick = () => openRun(li.dataset.name, runs.find((r) => r.name === li.dataset.name));
  } catch (e) { showError(e.message); }
}

async function openRun(name, info) {
  for (const li of $("runs").querySelectorAll("li")) li.classList.toggle("active", li.dataset.name === name);
  try {
    const { series } = await api("GET", `/api/runs/${encodeURIComponent(name)}`);
    $("run-title").textContent = name;
    const actions = $("run-actions");
    actions.replaceChildren();
    if (info && info.spec && info.game in play.games) {
      const button = document.createElement("button");
      button.textContent = `Play against ${info.spec}`;
      button.onclick = () => {
        switchView("play");
        $("game").value = info.game; chooseGame(info.game);
        $("opponent").value = info.spec;
        newGame();
      };
      actions.appendChild(button);
    }
    // one group per key prefix, one panel per key: the figures `arena plot` draws
    const groups = {};
    for (const key of Object.keys(series)) (groups[key.includes("/") ? key.split("/")[0] : "misc"] ||= []).push(key);
    const out = $("curves");
    out.replaceChildren();
    for (const [group, keys] of Object.entries(groups)) {
      const box = document.createElement("div");
      box.className = "curves-group";
      box.innerHTML = `<h3>${esc(group)}</h3>`;
      const grid = document.createElement("div");
      grid.className = "curves-grid";
      for (const key of keys) {
        const card = document.createElement("div");
        card.className = "card";
        card.appendChild(lineChart([{ name: key, xs: series[key].steps, ys: series[key].values, color: PALETTE[0] }], { width: 330, height: 190, title: key, xlabel: "step" }));
        grid.appendChild(card);
      }
      box.appendChild(grid);
      out.appendChild(box);
    }
    if (!Object.keys(series).length) out.innerHTML = '<p class="muted">No scalar figures in metrics.jsonl yet.</p>';
  } catch (e) { showError(e.message); }
}

// ---------------------------------------------------------------------------------------------------------------
// Tabs and start-up

function switchView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === name);
  for (const view of document.querySelectorAll(".view")) view.classList.toggle("hidden", view.id !== `view-${name}`);
  if (name === "watch") loadLedgers();
  if (name === "runs") loadRuns();
}
for (const tab of document.querySelectorAll(".tab")) tab.onclick = () => switchView(tab.dataset.view);

async function start() {
  try {
    const { games } = await api("GET", "/api/games");
    for (const g of games) play.games[g.name] = g;
    fillGameSelect($("game"), games.map((g) => g.name));
    fillGameSelect($("t-game"), games.map((g) => g.name));
    $("t-game").value = "tictactoe";
    const wanted = new URLSearchParams(location.search).get("game");
    $("game").value = wanted && wanted in play.games ? wanted : "connect_four";
    chooseGame($("game").value);
    await newGame();
  } catch (e) { showError(e.message); }
}
start();
