// The page of `growatt-onboard ui`: a client of the JSON API documented in docs/ui.md, and of
// nothing else. No framework and no build step: the server embeds this file as it is, and the
// Content-Security-Policy (default-src 'self') forbids inline script and style, so every
// behaviour is bound here and every look is a class in app.css.
'use strict';

/** The outcomes a row can end with, in the order the page shows them. */
const OUTCOMES = ['registered', 'already_registered', 'rejected', 'failed', 'invalid', 'duplicate', 'skipped'];
/** The columns a fleet needs, as the API names them. */
const KEYS = ['plant_id', 'sn', 'c_user_id'];
/** States in which a fleet's results are being written, so its events keep coming. */
const ACTIVE = ['running', 'stopping'];

/** What the page knows between events. */
const page = {
  file: null, // the chosen spreadsheet, sent again with the check
  fleetId: null, // the fleet shown under Run and Results
  events: null, // the EventSource of that fleet
  status: null, // its latest status object
  attentionKey: null, // the attention groups drawn, to redraw only when they change
  listenUntil: 0, // keep the stream open this long after a start, before the state changes
  timerEnd: { cooldown: null, paused: null }, // when the throttle's waits end (ms)
  filled: { rate: '', concurrency: '' }, // what a saved settings file put in the run form
};

// ---- Small helpers ----

/** The element with this id. */
function $(id) {
  return document.getElementById(id);
}

/** A new element with a class and text. */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** A count as people read it (1,234). */
function num(n) {
  return Number(n || 0).toLocaleString('en-US');
}

/** Seconds as "1 h 04 min", "2 min 05 s" or "12 s". */
function duration(s) {
  s = Math.max(0, Math.round(Number(s)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return h + ' h ' + String(m).padStart(2, '0') + ' min';
  if (m > 0) return m + ' min ' + String(sec).padStart(2, '0') + ' s';
  return sec + ' s';
}

/** An outcome as words: "already_registered" → "already registered". */
function words(outcome) {
  return String(outcome || '').replace(/_/g, ' ');
}

/** Shows an error in plain words in the element `id`, or hides it when `err` is null. */
function showError(id, err) {
  const box = $(id);
  box.hidden = !err;
  box.textContent = err ? err.message : '';
  const extra = err && err.suggestion && !err.message.includes(err.suggestion.trim());
  if (extra) box.appendChild(el('span', 'suggestion', err.suggestion));
}

// ---- The API ----

/** An error in plain words, with what to do when the API suggests something. */
function failure(message, suggestion) {
  return Object.assign(new Error(message), { suggestion: suggestion || null });
}

/** Calls the API: `body` is FormData (multipart), an object (JSON) or absent. */
async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init).catch(() => {
    throw failure('The page lost contact with growatt-onboard. Is the program still running?');
  });
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    throw failure('This page is no longer signed in: open the address `growatt-onboard ui` printed again.');
  }
  if (!res.ok) {
    const err = failure((data && data.error) || 'growatt-onboard answered ' + res.status + ' ' + res.statusText + '.', data && data.suggestion);
    throw Object.assign(err, { status: res.status });
  }
  return data;
}

// ---- Server and token ----

/** Reads the settings and shows them in the header. */
async function loadSettings() {
  try {
    renderSettings(await api('GET', '/api/settings'));
  } catch (err) {
    showError('settings-error', err);
    $('settings').open = true;
  }
}

/** Shows the server, whether a token is set, and fills the settings form. */
function renderSettings(s) {
  $('server-label').textContent = s.region ? s.region + ' (' + s.base_url + ')' : s.base_url;
  const token = $('token-state');
  token.dataset.set = s.token_set ? 'yes' : 'no';
  token.textContent = s.token_set
    ? 'Token: set' + (s.token_source ? ' (from the ' + s.token_source + ')' : '')
    : 'Token: not set. Paste it under “Server and token”.';
  if (!s.token_set) $('settings').open = true;
  const region = $('region');
  region.replaceChildren();
  for (const r of s.regions || []) {
    region.appendChild(new Option(r.id + ': ' + r.base_url, r.id));
  }
  region.appendChild(new Option('Another base URL (a rehearsal)…', ''));
  region.value = s.region || '';
  $('base-url').value = s.region ? '' : s.base_url || '';
  showBaseUrl();
  $('version').textContent = 'growatt-onboard ' + (s.version || '');
  $('fleet-dir').textContent = s.dir || '';
}

/** The base URL field is shown only when no region is chosen. */
function showBaseUrl() {
  $('base-url-label').hidden = $('region').value !== '';
}

/** Sends the token (if one was pasted) and the server. */
async function saveSettings(ev) {
  ev.preventDefault();
  const body = {};
  const token = $('token').value.trim();
  if (token) body.token = token;
  if ($('region').value) body.region = $('region').value;
  else body.base_url = $('base-url').value.trim();
  try {
    const s = await api('POST', '/api/settings', body);
    $('token').value = '';
    showError('settings-error', null);
    renderSettings(s);
    if (s.token_set) $('settings').open = false;
  } catch (err) {
    showError('settings-error', err);
  }
}

// ---- Fleet in: choose a file, map its columns, check it ----

/** Drag and drop on the drop zone, and the file picker inside it. */
function bindDropZone() {
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    const file = ev.dataTransfer && ev.dataTransfer.files[0];
    if (file) pickFile(file);
  });
  $('file').addEventListener('change', () => {
    if ($('file').files[0]) pickFile($('file').files[0]);
  });
}

/** A new file: forget the last check and read its sheets, headers and first rows. */
function pickFile(file) {
  page.file = file;
  $('check-result').hidden = true;
  showError('check-error', null);
  inspect(null);
}

/** `POST /api/inspect`, for the whole file or one sheet of it. */
async function inspect(sheet) {
  const form = new FormData();
  form.append('file', page.file, page.file.name);
  if (sheet) form.append('sheet', sheet);
  try {
    const data = await api('POST', '/api/inspect', form);
    showError('upload-error', null);
    renderInspect(data);
  } catch (err) {
    $('mapping').hidden = true;
    showError('upload-error', err);
  }
}

/** The sheet chooser, the three column drop-downs and the preview. */
function renderInspect(d) {
  $('file-name').textContent = d.name || page.file.name;
  const sheets = d.sheets || [];
  $('sheet-label').hidden = sheets.length < 2;
  fillSelect($('sheet'), sheets.map((s) => [s, s]), d.sheet);
  const options = [['', '(choose a column)']].concat((d.headers || []).map((h) => [h, h]));
  for (const key of KEYS) {
    fillSelect($('col-' + key), options, (d.mapping && d.mapping[key]) || '');
  }
  // A title or date above the header: say which row the header was found on.
  $('header-note').textContent = d.header_note || '';
  $('header-note').hidden = !d.header_note;
  renderTable($('preview'), d.headers || [], d.rows || []);
  $('mapping').hidden = false;
}

/** Replaces a select's options with `[value, label]` pairs and selects `chosen`. */
function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
  if (chosen !== null && chosen !== undefined) select.value = chosen;
}

/** A table: a header row, then a row per array of cells (text, or an element such as a badge).
 *  Each cell is named after its column, so a narrow screen can show a `.stack` row as a card. */
function renderTable(table, headers, rows, classes = []) {
  const head = el('tr');
  headers.forEach((h) => head.appendChild(el('th', null, h)));
  const body = el('tbody');
  for (const row of rows) {
    const tr = el('tr');
    row.forEach((cell, i) => {
      const td = el('td', classes[i], cell instanceof Node ? null : cell);
      if (cell instanceof Node) td.appendChild(cell);
      td.dataset.label = headers[i] || '';
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  table.replaceChildren(el('thead'), body);
  table.tHead.appendChild(head);
}

/** `POST /api/fleets` with the file, the sheet and the mapping; then the fleet is opened. */
async function checkFleet(ev) {
  ev.preventDefault();
  if (!page.file) return;
  const form = new FormData();
  form.append('file', page.file, page.file.name);
  const sheet = $('sheet').value;
  if (sheet) form.append('sheet', sheet);
  for (const key of KEYS) {
    const header = $('col-' + key).value;
    if (header) form.append('column', key + '=' + header);
  }
  $('check').disabled = true;
  try {
    const data = await api('POST', '/api/fleets', form);
    showError('check-error', null);
    renderCheck(data);
    await loadFleets();
    openFleet(data.id);
  } catch (err) {
    const unmapped = KEYS.filter((k) => !$('col-' + k).value);
    if (unmapped.length) err.suggestion = 'Choose the columns for ' + unmapped.join(', ') + ' in the drop-downs above.';
    showError('check-error', err);
  } finally {
    $('check').disabled = false;
  }
}

/** The check's counts, its problem rows and, beside them in row order, the rows whose serial a
 * spreadsheet may have damaged (sent all the same: a warning, not a problem). */
function renderCheck(d) {
  for (const k of ['rows', 'to_send', 'invalid', 'duplicate', 'skipped']) $('check-' + k).textContent = num(d[k] || 0);
  // Rows skipped on purpose are not problems: the first few are named on their tile.
  $('check-skipped').parentElement.title = (d.skipped_rows || []).map((s) => 'row ' + s.row + ': ' + s.message).join('\n');
  const warned = (d.serial_warnings || []).map((w) => ({ row: w.row, outcome: 'warning', message: w.message }));
  const problems = (d.problems || []).concat(warned).sort((a, b) => a.row - b.row);
  $('problems-wrap').hidden = problems.length === 0;
  $('problems-wrap').open = problems.length <= 20;
  $('problems-title').textContent = 'Rows with a problem (' + num(d.invalid + d.duplicate) + ')' +
    (d.warned ? ', serials to compare with the device label (' + num(d.warned) + ')' : '');
  const rows = problems.map((p) => [p.row, badge(p.outcome), p.message]);
  renderTable($('problems'), ['Row', 'Outcome', 'Problem'], rows, ['num', 'tag', 'wrap']);
  $('check-warnings').replaceChildren(...(d.warnings || []).map((w) => el('li', null, w)));
  $('check-result').hidden = false;
}

/** An outcome as a coloured badge. */
function badge(outcome) {
  return el('span', 'badge o-' + outcome, words(outcome));
}

// ---- Fleets kept from earlier ----

/** `GET /api/fleets`, newest first. */
async function loadFleets() {
  try {
    renderFleets(await api('GET', '/api/fleets'));
    showError('fleets-error', null);
  } catch (err) {
    showError('fleets-error', err);
  }
}

/** One button per fleet: its name, state and counts. */
function renderFleets(list) {
  const ul = $('fleet-list');
  ul.replaceChildren();
  $('fleets-empty').hidden = list.length > 0;
  for (const f of list) {
    const b = el('button', 'fleet');
    b.type = 'button';
    b.dataset.fleetId = f.id;
    b.setAttribute('aria-current', String(String(f.id) === page.fleetId));
    b.append(el('span', 'fleet-title', f.name), el('span', 'badge s-' + f.state, f.state));
    b.appendChild(el('span', 'fleet-counts', countsLine(f.counts || {})));
    b.addEventListener('click', () => openFleet(f.id));
    const li = el('li');
    li.appendChild(b);
    ul.appendChild(li);
  }
}

/** "265 registered · 8 rejected", the outcomes with rows only. */
function countsLine(counts) {
  const parts = OUTCOMES.filter((o) => counts[o]).map((o) => num(counts[o]) + ' ' + words(o));
  return parts.length ? parts.join(' · ') : 'nothing sent yet';
}

/** Shows one fleet under Run and Results, and follows its events. */
async function openFleet(id) {
  id = String(id);
  page.fleetId = id;
  page.attentionKey = null;
  history.replaceState(null, '', '#fleet=' + encodeURIComponent(id));
  for (const b of document.querySelectorAll('#fleet-list .fleet')) {
    b.setAttribute('aria-current', String(b.dataset.fleetId === id));
  }
  const base = '/api/fleets/' + encodeURIComponent(id);
  $('dl-results').href = base + '/results.csv';
  $('dl-xlsx').href = base + '/report.xlsx';
  $('dl-html').href = base + '/report.html';
  $('run').hidden = false;
  $('results').hidden = false;
  showError('run-error', null);
  showError('verify-error', null);
  loadSaved(id);
  await refreshStatus();
  follow(id);
}

// ---- Run: start, stop, and live progress ----

/** A fleet action (`run`, `stop`, `verify`): its button waits, its error shows beside it. */
async function act(action, body, button, errorId) {
  $(button).disabled = true;
  try {
    await api('POST', '/api/fleets/' + encodeURIComponent(page.fleetId) + '/' + action, body);
    showError(errorId, null);
    page.listenUntil = Date.now() + 10000; // the stream may still say "ready" for a moment
    if (!page.events) follow(page.fleetId);
  } catch (err) {
    showError(errorId, err);
    $(button).disabled = false;
  }
}

/** Start (or continue) with the account pre-flight and the advanced settings filled in. */
function startRun(ev) {
  ev.preventDefault();
  const body = { account: $('account').checked };
  const rate = $('rate').value.trim();
  if (rate) body.rate = rate;
  const concurrency = parseInt($('concurrency').value, 10);
  if (concurrency > 0) body.concurrency = concurrency;
  act('run', body, 'start', 'run-error');
}

/** Opens the event stream of fleet `id` (closing any other). */
function follow(id) {
  if (page.events) page.events.close();
  const source = new EventSource('/api/fleets/' + encodeURIComponent(id) + '/events');
  page.events = source;
  source.onmessage = (ev) => {
    if (page.events !== source) return;
    try {
      renderStatus(JSON.parse(ev.data));
    } catch (_) {
      // A malformed event is skipped; the next one brings the whole status again.
    }
  };
  source.onerror = () => {
    // The server ends a stream once nothing more will change; reconnecting then would only poll.
    if (page.events === source && !isBusy(page.status) && Date.now() > page.listenUntil) {
      source.close();
      page.events = null;
    }
  };
}

/** Whether a run or a verify holds the fleet. */
function isBusy(s) {
  return !!s && (ACTIVE.includes(s.state) || !!s.verifying);
}

/** Everything a status object shows. */
function renderStatus(s) {
  if (!s || String(s.id) !== page.fleetId) return;
  const was = page.status;
  page.status = s;
  $('fleet-name').textContent = s.name || '';
  renderState(s);
  renderProgress(s);
  renderThrottle(s);
  renderNotes(s.notes || []);
  renderVerify(s);
  // Events carry no row lists: the rows needing attention come with the full status, asked for
  // when a run or verify has ended.
  if (s.attention) renderAttention(s.attention, s.attention_total);
  if (was && was.id === s.id && (was.state !== s.state || !!was.verifying !== !!s.verifying)) {
    loadFleets();
    if (!isBusy(s)) refreshStatus();
  }
}

/** The full status of the open fleet, rows needing attention included. */
async function refreshStatus() {
  try {
    renderStatus(await api('GET', '/api/fleets/' + encodeURIComponent(page.fleetId)));
  } catch (err) {
    showError('run-error', err);
  }
}

/** The latest notices of the run (a pause, a cooldown learnt, a warning), newest last. */
function renderNotes(notes) {
  $('notes').replaceChildren(...notes.map((n) => el('li', null, n)));
  $('notes').hidden = notes.length === 0;
}

/** The state line and which buttons can be used. */
function renderState(s) {
  const state = $('state');
  state.dataset.state = s.state;
  state.textContent = s.state === 'stopping' ? 'stopping (rows in flight finish)' : s.state;
  $('stopped').textContent = s.stopped ? 'Stopped: ' + s.stopped : '';
  const running = ACTIVE.includes(s.state);
  $('start').disabled = running || !!s.verifying;
  $('stop').disabled = s.state !== 'running';
  const sent = ['registered', 'already_registered', 'rejected', 'failed'].some((o) => s.counts && s.counts[o]);
  let label = s.stopped ? 'Continue' : sent ? 'Run again' : 'Start';
  if (running) label = 'Running…';
  $('start').textContent = label;
  $('verify').disabled = running || !!s.verifying;
}

/** Rows done of total, the counts per outcome, the pace and the time left. */
function renderProgress(s) {
  const counts = s.counts || {};
  for (const o of OUTCOMES) $('count-' + o).textContent = num(counts[o]);
  const running = ACTIVE.includes(s.state);
  const ended = OUTCOMES.reduce((sum, o) => sum + (counts[o] || 0), 0);
  const done = running ? s.rows_done || 0 : ended; // rows_done counts the rows done earlier too
  const total = s.rows_total || (running ? null : ended);
  const bar = $('progress');
  if (total) {
    bar.max = total;
    bar.value = Math.min(done, total);
  } else {
    bar.removeAttribute('value'); // an indeterminate bar while the total is still unknown
  }
  let text = total ? num(done) + ' of ' + num(total) + ' rows done' : num(done) + ' rows done';
  if (running && s.skipped_done) text += ' (' + num(s.skipped_done) + ' done earlier)';
  if (!running && !ended) text = 'No row sent yet.';
  $('progress-text').textContent = text;
  $('progress-text').dataset.done = String(done);
  $('pace').textContent = running && s.rate != null ? Number(s.rate).toFixed(2) + ' a second' : '–';
  $('eta').textContent = running && s.eta_s != null ? duration(s.eta_s) : '–';
  $('requests').textContent = num(s.requests);
}

/** Deferred rows, the cooldown until the next one, and a pause; counted down every second. */
function renderThrottle(s) {
  const now = Date.now();
  page.timerEnd.cooldown = s.cooldown_s != null ? now + s.cooldown_s * 1000 : null;
  page.timerEnd.paused = s.paused_s != null ? now + s.paused_s * 1000 : null;
  tickThrottle();
}

/** The throttle line, from the last status and the clock. */
function tickThrottle() {
  const s = page.status;
  if (!s) return;
  const parts = [];
  if (s.deferred) parts.push(num(s.deferred) + (s.deferred === 1 ? ' row deferred' : ' rows deferred'));
  const left = (end) => Math.max(0, (end - Date.now()) / 1000);
  if (page.timerEnd.cooldown) parts.push('next in ' + duration(left(page.timerEnd.cooldown)));
  if (page.timerEnd.paused) parts.push('paused, ' + duration(left(page.timerEnd.paused)) + ' left');
  const line = $('throttle');
  line.textContent = parts.length ? parts.join(', ') : 'none';
  line.classList.toggle('warn', parts.length > 0);
}

// ---- Results: rows needing attention, verify ----

/** One group per piece of advice, each with its rows. */
function renderAttention(groups, total) {
  const key = JSON.stringify(groups);
  if (key === page.attentionKey) return; // redrawing would fold groups a person opened
  page.attentionKey = key;
  $('attention-none').hidden = groups.length > 0;
  const listed = groups.reduce((n, g) => n + (g.rows || []).length, 0);
  $('attention-more').hidden = !(total > listed);
  $('attention-more').textContent = 'The first ' + num(listed) + ' of ' + num(total) + ' rows are shown; the results and reports hold them all.';
  $('attention').replaceChildren(...groups.map((g, i) => {
    const rows = (g.rows || []).map((r) => [r.row, r.sn, badge(r.outcome), r.error_code, r.message]);
    const group = el('details', 'attention-group');
    group.open = groups.length <= 3 || i === 0;
    group.appendChild(el('summary', null, g.advice + ' (' + num(rows.length) + (rows.length === 1 ? ' row)' : ' rows)')));
    const table = el('table', 'grid stack');
    renderTable(table, ['Row', 'Serial', 'Outcome', 'Code', 'Message'], rows, ['num', 'wrap', 'tag', 'num', 'wrap']);
    const wrap = el('div', 'table-wrap');
    wrap.appendChild(table);
    group.appendChild(wrap);
    return group;
  }));
}

/** Linked, pending, elsewhere and plant missing, once verified. */
function renderVerify(s) {
  const v = s.verify;
  $('verify-result').hidden = !v;
  if (v) {
    for (const k of ['linked', 'pending', 'elsewhere', 'plant_missing']) $('verify-' + k).textContent = num(v[k]);
  }
  let text = '';
  if (s.verifying) text = 'Verifying: asking the server which devices are linked…';
  else if (s.verify_stopped) text = 'Verify stopped: ' + s.verify_stopped;
  else if (v) text = 'Verified.';
  $('verify-state').textContent = text;
}

/** Verify, locating devices not found when asked. */
function startVerify(ev) {
  ev.preventDefault();
  act('verify', $('locate').checked ? { locate: true } : {}, 'verify', 'verify-error');
}

// ---- Start ----

/** Binds every control, then loads the settings, the fleets and the fleet named in the URL. */
function init() {
  $('settings-form').addEventListener('submit', saveSettings);
  $('region').addEventListener('change', showBaseUrl);
  bindDropZone();
  $('sheet').addEventListener('change', () => inspect($('sheet').value));
  $('mapping').addEventListener('submit', checkFleet);
  $('run-form').addEventListener('submit', startRun);
  $('stop').addEventListener('click', () => act('stop', undefined, 'stop', 'run-error'));
  $('verify-form').addEventListener('submit', startVerify);
  setInterval(tickThrottle, 1000);
  loadSettings();
  loadFleets().then(() => {
    const m = /^#fleet=(.+)$/.exec(location.hash);
    if (m) openFleet(decodeURIComponent(m[1]));
  });
  document.body.dataset.ready = 'true';
}

document.addEventListener('DOMContentLoaded', init);
