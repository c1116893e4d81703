// Chime dashboard: a single-page app over the REST API under /api/v1.
//
// Plain modern JavaScript, no framework, no build step: the binary embeds
// this file as it is. Views are built with DOM calls (never innerHTML with
// data), so nothing the API returns can inject markup. Every view exposes a
// refresh() that the poller calls every 2 s while the tab is visible.
//
// The API may be older or newer than this file: every field is read
// defensively and a missing one renders as "—".
'use strict';

(() => {
  const API = '/api/v1';
  const POLL_MS = 2000;
  const STRIP_TTL_MS = 15000;
  const TOKEN_KEY = 'chime.token';
  const READ_ONLY_KEY = 'chime.readOnly';
  const STATES = ['queued', 'running', 'retrying', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'missed', 'dead'];
  const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped', 'missed', 'dead']);
  const FAILED = new Set(['failed', 'timed_out', 'dead']);
  const TRIGGERS = ['schedule', 'manual', 'backfill', 'retry', 'catchup'];

  // ---------------------------------------------------------------- DOM helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', v);
      else if (k === 'value' && 'value' in el) el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    append(el, children);
    return el;
  }

  const dash = '—';
  const enc = encodeURIComponent;
  const shortId = (id) => (id ? String(id).slice(-8) : dash);

  // ---------------------------------------------------------------- time

  const fmtAbs = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const fmtClock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const fmtFire = new Intl.DateTimeFormat(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zoneFormats = new Map();
  // The wall-clock time of `d` in the IANA zone `tz`, or null when the zone
  // is the viewer's own or unknown to the browser.
  function inZone(d, tz) {
    if (!tz || tz === viewerZone) return null;
    try {
      if (!zoneFormats.has(tz)) zoneFormats.set(tz, new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit', timeZone: tz }));
      return zoneFormats.get(tz).format(d) + ' in ' + tz;
    } catch (_) {
      return null;
    }
  }
  // A fire time: the viewer's time, plus the job's own wall clock when different.
  function fireEl(v, tz) {
    const d = toDate(v);
    if (!d) return h('span', { class: 'muted' }, dash);
    const there = inZone(d, tz);
    return h('span', null,
      h('time', { datetime: d.toISOString(), title: utcTitle(d) }, fmtFire.format(d)),
      there ? h('span', { class: 'muted small' }, ' · ' + there) : null);
  }
  const fmtClockSec = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

  function toDate(v) {
    if (v === null || v === undefined || v === '') return null;
    const d = typeof v === 'number' ? new Date(v) : new Date(String(v));
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function utcTitle(d) {
    return 'UTC ' + d.toISOString().replace('T', ' ').replace('Z', '');
  }

  function fmtDur(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return dash;
    const neg = ms < 0;
    let a = Math.abs(ms);
    let out;
    const two = (big, bigUnit, small, smallUnit) => big + ' ' + bigUnit + (small ? ' ' + small + ' ' + smallUnit : '');
    if (a < 1000) out = Math.round(a) + ' ms';
    else if (a < 60000) out = String(Number((a / 1000).toFixed(a < 10000 ? 2 : 1))) + ' s';
    else if (a < 3600000) out = two(Math.floor(a / 60000), 'min', Math.floor((a % 60000) / 1000), 's');
    else if (a < 86400000) out = two(Math.floor(a / 3600000), 'h', Math.floor((a % 3600000) / 60000), 'min');
    else out = two(Math.floor(a / 86400000), 'd', Math.floor((a % 86400000) / 3600000), 'h');
    return neg ? '−' + out : out;
  }

  function fmtAge(ms) {
    const a = Math.abs(ms);
    if (a < 1000) return '0 s';
    if (a < 60000) return Math.round(a / 1000) + ' s';
    if (a < 3600000) return Math.round(a / 60000) + ' min';
    if (a < 86400000) return (a / 3600000).toFixed(a < 36000000 ? 1 : 0) + ' h';
    return Math.round(a / 86400000) + ' d';
  }

  function fmtRel(d) {
    const diff = d.getTime() - Date.now();
    if (Math.abs(diff) < 1000) return 'just now';
    const age = fmtAge(diff);
    return diff > 0 ? 'in ' + age : age + ' ago';
  }

  // A <time> showing local time (or relative) with UTC in the title.
  function timeEl(v, opts = {}) {
    const d = toDate(v);
    if (!d) return h('span', { class: 'muted' }, dash);
    const text = opts.relative ? fmtRel(d) : opts.clock ? fmtClockSec.format(d) : fmtAbs.format(d);
    const title = (opts.relative ? fmtAbs.format(d) + ' · ' : '') + utcTitle(d);
    return h('time', { datetime: d.toISOString(), title }, text);
  }

  function between(a, b) {
    const da = toDate(a), db = toDate(b);
    return da && db ? db.getTime() - da.getTime() : null;
  }

  // datetime-local <input> value <-> ISO instant in UTC
  function localInputToIso(v) {
    if (!v) return '';
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? '' : d.toISOString();
  }
  function isoToLocalInput(d) {
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  // ---------------------------------------------------------------- cron in words

  const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const DAY_ABBR = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };
  const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const MONTH_ABBR = { JAN: 1, FEB: 2, MAR: 3, APR: 4, MAY: 5, JUN: 6, JUL: 7, AUG: 8, SEP: 9, OCT: 10, NOV: 11, DEC: 12 };

  const pad2 = (n) => String(n).padStart(2, '0');
  const isNum = (v) => /^\d+$/.test(v);
  const stepOf = (v) => { const m = /^(\*|0)\/(\d+)$/.exec(v); return m ? +m[2] : null; };
  const ordinal = (n) => n + ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 100 > 10 && n % 100 < 14 ? 0 : n % 10] || 'th');
  function joinAnd(xs) {
    if (xs.length <= 1) return xs.join('');
    return xs.slice(0, -1).join(', ') + ' and ' + xs[xs.length - 1];
  }
  function plural(n, unit) { return n === 1 ? unit : unit + 's'; }

  function dayName(v) {
    const u = String(v).toUpperCase();
    if (u in DAY_ABBR) return DAY_NAMES[DAY_ABBR[u]];
    if (isNum(u) && +u <= 7) return DAY_NAMES[+u % 7];
    throw new Error('day');
  }
  function dayNum(v) {
    const u = String(v).toUpperCase();
    if (u in DAY_ABBR) return DAY_ABBR[u];
    if (isNum(u) && +u <= 7) return +u % 7;
    throw new Error('day');
  }
  function monthName(v) {
    const u = String(v).toUpperCase();
    if (u in MONTH_ABBR) return MONTH_NAMES[MONTH_ABBR[u] - 1];
    if (isNum(u) && +u >= 1 && +u <= 12) return MONTH_NAMES[+u - 1];
    throw new Error('month');
  }

  function humanInterval(text) {
    const units = { ms: 'millisecond', s: 'second', m: 'minute', h: 'hour', d: 'day' };
    const re = /(\d+)\s*(ms|s|m|h|d)/gy;
    const parts = [];
    let m;
    const t = text.replace(/\s+/g, '');
    while ((m = re.exec(t)) !== null) parts.push(m[1] + ' ' + plural(+m[1], units[m[2]]));
    if (!parts.length || re.lastIndex !== 0 && re.lastIndex !== t.length) return text;
    return joinAnd(parts);
  }

  function timeWords(sec, min, hour) {
    const S = isNum(sec) ? +sec : null;
    const M = isNum(min) ? +min : null;
    const H = isNum(hour) ? +hour : null;
    const clock = (hh, mm, ss) => `${pad2(hh)}:${pad2(mm)}${ss ? ':' + pad2(ss) : ''}`;
    if (S !== null && M !== null && H !== null) return { fixed: true, text: 'at ' + clock(H, M, S) };
    if (S !== null && M !== null && /^\d+(,\d+)+$/.test(hour)) {
      return { fixed: true, text: 'at ' + joinAnd(hour.split(',').map((x) => clock(+x, M, S))) };
    }
    const rangeH = /^(\d+)-(\d+)$/.exec(hour);
    const hourScope = hour === '*' ? '' : rangeH ? ` during hours ${pad2(+rangeH[1])}–${pad2(+rangeH[2])}` : null;
    if (sec === '*' && min === '*' && hour === '*') return { text: 'every second' };
    const ss = stepOf(sec);
    if (ss && min === '*' && hour === '*') return { text: `every ${ss} seconds` };
    if (S === null) return null;
    const atSec = S ? ` at second ${S}` : '';
    if (min === '*' && hourScope !== null) return { text: 'every minute' + atSec + hourScope };
    const ms = stepOf(min);
    if (ms && hourScope !== null && !S) return { text: `every ${ms} minutes${hourScope}` };
    if (M !== null) {
      if (hour === '*') return { text: `every hour at :${pad2(M)}${S ? ':' + pad2(S) : ''}` };
      const hs = stepOf(hour);
      if (hs) return { text: `every ${hs} hours at :${pad2(M)}` };
      if (rangeH) return { text: `every hour at :${pad2(M)}${hourScope}` };
    }
    if (/^\d+(,\d+)+$/.test(min) && hourScope !== null && !S) {
      return { text: 'every hour at ' + joinAnd(min.split(',').map((x) => ':' + pad2(+x))) + hourScope };
    }
    return null;
  }

  function dayWords(dom, dow) {
    dom = dom === '?' ? '*' : dom;
    dow = dow === '?' ? '*' : dow;
    if (dom === '*' && dow === '*') return '';
    if (dom === '*') {
      let m = /^(\w+)#(\d)$/.exec(dow);
      if (m) return `on the ${ordinal(+m[2])} ${dayName(m[1])} of the month`;
      m = /^(\w+)L$/i.exec(dow);
      if (m) return `on the last ${dayName(m[1])} of the month`;
      m = /^(\w+)-(\w+)$/.exec(dow);
      if (m) {
        const a = dayNum(m[1]), b = dayNum(m[2]);
        if (a === 1 && b === 5) return 'on weekdays';
        return `${dayName(m[1])} through ${dayName(m[2])}`;
      }
      const days = dow.split(',').map(dayNum);
      const set = new Set(days);
      if (set.size === 2 && set.has(0) && set.has(6)) return 'on weekends';
      if (set.size === 5 && [1, 2, 3, 4, 5].every((d) => set.has(d))) return 'on weekdays';
      if (days.length === 1 && dow.split(',').length === 1) return 'every ' + DAY_NAMES[days[0]];
      return 'on ' + joinAnd(days.map((d) => DAY_NAMES[d]));
    }
    if (dow === '*') {
      if (/^L$/i.test(dom)) return 'on the last day of the month';
      if (/^LW$/i.test(dom)) return 'on the last weekday of the month';
      let m = /^(\d+)W$/i.exec(dom);
      if (m) return `on the weekday nearest day ${+m[1]} of the month`;
      if (isNum(dom)) return `on day ${+dom} of the month`;
      if (/^\d+(,\d+)+$/.test(dom)) return 'on days ' + joinAnd(dom.split(',').map(Number)) + ' of the month';
      m = /^(\d+)-(\d+)$/.exec(dom);
      if (m) return `on days ${+m[1]} to ${+m[2]} of the month`;
      const st = stepOf(dom);
      if (st) return `every ${ordinal(st)} day of the month`;
    }
    return null;
  }

  function monthWords(mon) {
    if (mon === '*') return '';
    const m = /^(\w+)-(\w+)$/.exec(mon);
    if (m) return `from ${monthName(m[1])} through ${monthName(m[2])}`;
    return 'in ' + joinAnd(mon.split(',').map(monthName));
  }

  // The schedule in words for the common forms; null means "show the expression".
  function cronToWords(expr) {
    if (!expr || typeof expr !== 'string') return null;
    const e = expr.trim();
    const lower = e.toLowerCase();
    const macros = {
      '@yearly': 'every year on January 1 at 00:00',
      '@annually': 'every year on January 1 at 00:00',
      '@monthly': 'at 00:00 on day 1 of the month',
      '@weekly': 'every Sunday at 00:00',
      '@daily': 'every day at 00:00',
      '@midnight': 'every day at 00:00',
      '@hourly': 'every hour at :00',
    };
    if (lower in macros) return macros[lower];
    if (lower.startsWith('@every')) {
      const rest = e.slice(6).trim();
      return rest ? 'every ' + humanInterval(rest) : null;
    }
    if (lower.startsWith('@at')) {
      const d = toDate(e.slice(3).trim());
      return d ? 'once, on ' + fmtAbs.format(d) : null;
    }
    const f = e.split(/\s+/);
    let sec = '0', min, hour, dom, mon, dow, year = '*';
    if (f.length === 5) [min, hour, dom, mon, dow] = f;
    else if (f.length === 6) [sec, min, hour, dom, mon, dow] = f;
    else if (f.length === 7) [sec, min, hour, dom, mon, dow, year] = f;
    else return null;
    try {
      const t = timeWords(sec, min, hour);
      if (!t) return null;
      const d = dayWords(dom, dow);
      if (d === null) return null;
      const m = monthWords(mon);
      const y = year === '*' ? '' : isNum(year) ? 'in ' + year : null;
      if (y === null) return null;
      let text = t.text;
      if (d.startsWith('every ') && t.fixed) text = d + ' ' + text;
      else if (t.fixed && !d && !m) text = 'every day ' + text;
      else if (d) text = text + ' ' + d;
      return [text, m, y].filter(Boolean).join(' ');
    } catch (_) {
      return null;
    }
  }

  // ---------------------------------------------------------------- API client

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || (status ? `HTTP ${status}` : 'cannot reach the API'));
      this.status = status;
      this.code = e.code || null;
      this.field = e.field || null;
    }
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v === null || v === undefined || v === '') continue;
      if (Array.isArray(v)) v.forEach((x) => x !== '' && u.append(k, x));
      else u.append(k, v);
    }
    const text = u.toString();
    return text ? '?' + text : '';
  }

  const auth = {
    get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; },
    get readOnly() { return sessionStorage.getItem(READ_ONLY_KEY) === '1'; },
  };

  async function api(path, opts = {}) {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    const token = auth.token;
    if (token) headers.Authorization = 'Bearer ' + token;
    let body;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      if (!headers['Content-Type']) headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(API + path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, { error: { code: 'network', message: 'cannot reach the API (' + err.message + ')' } });
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = { error: { message: text.slice(0, 300) } }; }
    }
    if (res.status === 401) {
      showSignIn(token ? 'That token was refused. Sign in with a valid token.' : 'This Chime API needs a token.');
      throw new ApiError(401, data);
    }
    if (res.status === 403) {
      setReadOnly(true);
      throw new ApiError(403, data);
    }
    if (!res.ok) throw new ApiError(res.status, data);
    return { data: data || {}, status: res.status, etag: res.headers.get('ETag') };
  }

  const items = (data) => (Array.isArray(data) ? data : (data && Array.isArray(data.items) ? data.items : []));
  const nextCursor = (data) => (data && data.next_cursor) || null;

  // ---------------------------------------------------------------- chrome: status, toasts, auth

  function setLive(kind, text) {
    const el = $('#live-status');
    el.textContent = text;
    el.classList.toggle('is-live', kind === 'live');
    el.classList.toggle('is-error', kind === 'error');
  }

  function toast(message, isError) {
    const box = h('div', { class: isError ? 'is-error' : '' }, message);
    $('#toast').appendChild(box);
    setTimeout(() => box.remove(), isError ? 8000 : 5000);
  }

  function showBanner(text, isError) {
    const b = $('#banner');
    if (!text) { b.hidden = true; b.replaceChildren(); return; }
    b.replaceChildren(...(Array.isArray(text) ? text : [text]));
    b.classList.toggle('is-error', !!isError);
    b.hidden = false;
  }

  function applyReadOnly() {
    const ro = auth.readOnly;
    document.body.classList.toggle('read-only', ro);
    for (const b of $$('[data-action]')) {
      b.disabled = ro || b.dataset.busy === '1';
      if (ro) b.title = 'Needs a token with write scope';
      else b.removeAttribute('title');
    }
  }

  function setReadOnly(on) {
    if (on) sessionStorage.setItem(READ_ONLY_KEY, '1');
    else sessionStorage.removeItem(READ_ONLY_KEY);
    applyReadOnly();
    if (on) {
      showBanner([
        h('strong', null, 'Read-only token. '),
        'This token can look but not act: trigger, pause, resume, edit, backfill, cancel and delete are disabled. ',
        h('button', { type: 'button', class: 'btn btn-quiet', id: 'switch-token', onclick: () => showSignIn('Sign in with a token that has write scope.') }, 'Use another token'),
      ]);
    } else {
      showBanner(null);
    }
  }

  let signInShown = false;
  function showSignIn(reason) {
    // A late reply from before the sign-in showed must not wipe what the
    // user is typing.
    if (signInShown && !$('#signin').hidden && $('#token-input').value) return;
    signInShown = true;
    stopPolling();
    $('#signin-reason').textContent = reason;
    $('#signin').hidden = false;
    $('#main').hidden = true;
    setLive('error', 'Signed out');
    const input = $('#token-input');
    input.value = '';
    input.focus();
  }

  function hideSignIn() {
    signInShown = false;
    $('#signin').hidden = true;
    $('#main').hidden = false;
  }

  function updateSignOut() {
    $('#sign-out').hidden = !auth.token;
  }

  // Runs an action with its button marked busy; reports errors as a toast.
  async function act(button, fn) {
    if (button) { button.dataset.busy = '1'; button.disabled = true; }
    try {
      return await fn();
    } catch (err) {
      if (err.status === 403) toast('Read-only token: this action needs write scope.', true);
      else if (err.status !== 401) toast(err.message, true);
      return undefined;
    } finally {
      if (button) { delete button.dataset.busy; button.disabled = auth.readOnly; }
    }
  }

  function actionButton(id, label, onclick, cls = 'btn') {
    return h('button', { type: 'button', id, class: cls, 'data-action': '', 'data-testid': id, disabled: auth.readOnly, onclick }, label);
  }

  // ---------------------------------------------------------------- shared pieces

  function badge(state, opts = {}) {
    if (!state) return h('span', { class: 'badge none' }, opts.none || 'never');
    const st = String(state);
    return h('span', { class: 'badge st-' + st + (opts.big ? ' big' : ''), 'data-testid': opts.testid || null, id: opts.id || null }, st.replace('_', ' '));
  }

  const jobNames = new Map();
  const jobNameLoads = new Set();
  function rememberJob(job) {
    if (job && job.id && job.name) jobNames.set(String(job.id), job.name);
  }
  function jobLink(id) {
    if (!id) return h('span', { class: 'muted' }, dash);
    const key = String(id);
    const a = h('a', { href: '#/jobs/' + enc(key), 'data-jobref': key }, jobNames.get(key) || shortId(key));
    if (!jobNames.has(key) && !jobNameLoads.has(key)) {
      jobNameLoads.add(key);
      api('/jobs/' + enc(key)).then(({ data }) => {
        rememberJob(data);
        for (const el of $$('[data-jobref]')) if (el.dataset.jobref === key && data.name) el.textContent = data.name;
      }).catch(() => {});
    }
    return a;
  }

  function lastRunOf(job) {
    const lr = job.last_run || job.latest_run || null;
    if (lr && typeof lr === 'object') return { state: lr.state || null, id: lr.id || lr.run_id || null, at: lr.finished_at || lr.started_at || lr.scheduled_at || null };
    if (typeof lr === 'string') return { state: lr, id: null, at: null };
    if (job.last_run_state) return { state: job.last_run_state, id: job.last_run_id || null, at: job.last_run_at || null };
    return { state: null, id: null, at: null };
  }

  const fireAt = (x) => (typeof x === 'string' ? x : x && (x.at || x.utc || x.time)) || null;
  function nextFireOf(job) {
    if (Array.isArray(job.next_fires) && job.next_fires.length) return fireAt(job.next_fires[0]);
    return fireAt(job.next_fire) || null;
  }

  function scheduleCell(job) {
    const words = cronToWords(job.schedule);
    return [
      words ? h('span', { class: 'sched-words' }, words) : null,
      h('code', { class: 'sched-expr' }, job.schedule || dash),
    ];
  }

  function pageHead(title, sub, extra, crumbs) {
    return h('div', { class: 'page-head' },
      h('div', null,
        crumbs ? h('div', { class: 'crumbs' }, crumbs) : null,
        h('h1', { tabindex: '-1' }, title),
        sub ? h('p', { class: 'sub' }, sub) : null),
      extra || null);
  }

  function errorNote(err) {
    return h('p', { class: 'field-error', role: 'alert' }, err.message || String(err));
  }

  // A cursor stack for server-side pagination.
  class Pager {
    constructor(onChange, prefix) {
      this.stack = [null];
      this.next = null;
      this.onChange = onChange;
      this.prev = h('button', { type: 'button', class: 'btn', id: prefix + '-prev', onclick: () => this.go(-1) }, '← Previous');
      this.nextBtn = h('button', { type: 'button', class: 'btn', id: prefix + '-next', onclick: () => this.go(1) }, 'Next →');
      this.label = h('span', { class: 'muted' });
      this.el = h('div', { class: 'pager' }, this.label, this.prev, this.nextBtn);
      this.sync();
    }
    get cursor() { return this.stack[this.stack.length - 1]; }
    reset() { this.stack = [null]; this.next = null; this.sync(); }
    setNext(c) { this.next = c; this.sync(); }
    go(dir) {
      if (dir > 0 && this.next) this.stack.push(this.next);
      else if (dir < 0 && this.stack.length > 1) this.stack.pop();
      else return;
      this.next = null;
      this.sync();
      this.onChange();
    }
    sync() {
      this.prev.disabled = this.stack.length <= 1;
      this.nextBtn.disabled = !this.next;
      this.label.textContent = 'Page ' + this.stack.length;
    }
  }

  // Replaces the rows of a tbody in place, keyed, touching only rows whose
  // content changed, so focus and hover survive the 2 s refresh.
  function syncRows(tbody, list, key, sig, build) {
    const old = new Map();
    for (const tr of Array.from(tbody.children)) if (tr.dataset.key) old.set(tr.dataset.key, tr);
    let prev = null;
    for (const item of list) {
      const k = String(key(item));
      const signature = sig(item);
      let tr = old.get(k);
      if (!tr || tr.dataset.sig !== signature) {
        const fresh = build(item);
        fresh.dataset.key = k;
        fresh.dataset.sig = signature;
        if (tr) tr.replaceWith(fresh);
        tr = fresh;
      }
      old.delete(k);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const tr of old.values()) tr.remove();
    for (const tr of Array.from(tbody.children)) if (!tr.dataset.key) tr.remove();
  }

  function emptyRow(cols, text) {
    return h('tr', null, h('td', { colspan: cols, class: 'empty' }, text));
  }

  function labelsOf(job) {
    const l = job.labels;
    return l && typeof l === 'object' ? Object.entries(l) : [];
  }

  // ---------------------------------------------------------------- charts

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // Integer axis ticks for counts: a step of 1, 2, 5, 10, 20, 25, 50...
  // giving at most 5 steps, and the top the first step at or above max.
  function countTicks(max) {
    const steps = [1, 2, 5, 10, 20, 25, 50];
    let step = 1;
    for (let mul = 1; ; mul *= 100) {
      const found = steps.map((x) => x * mul).find((x) => Math.ceil(max / x) <= 5);
      if (found) { step = found; break; }
    }
    const top = Math.max(step, Math.ceil(max / step) * step);
    const ticks = [];
    for (let v = 0; v <= top; v += step) ticks.push(v);
    return { top, ticks };
  }

  // Runs per minute over the last hour, succeeded and failed stacked.
  function runsPerMinuteChart(runs, now) {
    const W = 640, H = 200, L = 30, R = 8, T = 10, B = 24;
    const start = now - 60 * 60000;
    const ok = new Array(60).fill(0), bad = new Array(60).fill(0);
    for (const r of runs) {
      if (r.state !== 'succeeded' && !FAILED.has(r.state)) continue;
      const d = toDate(r.finished_at || r.started_at || r.scheduled_at);
      if (!d) continue;
      const i = Math.floor((d.getTime() - start) / 60000);
      if (i < 0 || i >= 60) continue;
      if (r.state === 'succeeded') ok[i]++; else bad[i]++;
    }
    const { top: max, ticks } = countTicks(Math.max(1, ...ok.map((x, i) => x + bad[i])));
    const pw = W - L - R, ph = H - T - B, bw = pw / 60;
    const y = (v) => T + ph - (v / max) * ph;
    const totalOk = ok.reduce((a, b) => a + b, 0), totalBad = bad.reduce((a, b) => a + b, 0);
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id: 'runs-chart', 'data-testid': 'runs-chart',
      'aria-label': `Runs per minute over the last hour: ${totalOk} succeeded, ${totalBad} failed` });
    for (const v of ticks) {
      svg.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.appendChild(s('text', { x: L - 5, y: y(v) + 3, 'text-anchor': 'end' }, v));
    }
    for (let i = 0; i < 60; i++) {
      const x = L + i * bw + 0.5;
      const minute = new Date(start + i * 60000);
      const g = s('g', null, s('title', null, `${fmtClock.format(minute)}: ${ok[i]} succeeded, ${bad[i]} failed`));
      g.appendChild(s('rect', { x, width: Math.max(1, bw - 1.5), y: T, height: ph, fill: 'transparent' }));
      if (ok[i]) g.appendChild(s('rect', { class: 'bar-ok', x, width: Math.max(1, bw - 1.5), y: y(ok[i]), height: ph - (y(ok[i]) - T) }));
      if (bad[i]) g.appendChild(s('rect', { class: 'bar-fail', x, width: Math.max(1, bw - 1.5), y: y(ok[i] + bad[i]), height: y(ok[i]) - y(ok[i] + bad[i]) }));
      svg.appendChild(g);
      if (i % 10 === 0) svg.appendChild(s('text', { x: L + i * bw, y: H - 6 }, fmtClock.format(minute)));
    }
    svg.appendChild(s('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'now'));
    return svg;
  }

  // Durations (bars, left axis) and lateness (line, right axis) of recent runs.
  function durationChart(runs) {
    const W = 1000, H = 220, L = 56, R = 56, T = 12, B = 22;
    const pts = runs
      .map((r) => ({ r, dur: between(r.started_at, r.finished_at), late: between(r.scheduled_at, r.started_at), at: toDate(r.scheduled_at) }))
      .filter((p) => p.at && (p.dur !== null || p.late !== null))
      .sort((a, b) => a.at - b.at);
    if (!pts.length) return h('p', { class: 'muted', id: 'job-chart', 'data-testid': 'job-chart' }, 'No finished runs yet.');
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', id: 'job-chart', 'data-testid': 'job-chart' });
    const maxD = niceMax(Math.max(1, ...pts.map((p) => p.dur || 0)));
    const maxL = niceMax(Math.max(1, ...pts.map((p) => Math.max(0, p.late || 0))));
    const pw = W - L - R, ph = H - T - B, bw = pw / pts.length;
    const yD = (v) => T + ph - (Math.max(0, v) / maxD) * ph;
    const yL = (v) => T + ph - (Math.max(0, v) / maxL) * ph;
    const durs = pts.map((p) => p.dur).filter((d) => d !== null).sort((a, b) => a - b);
    const p50 = durs.length ? durs[Math.floor(durs.length / 2)] : null;
    svg.setAttribute('aria-label', `Durations of the last ${pts.length} runs: median ${fmtDur(p50)}, longest ${fmtDur(durs[durs.length - 1])}; longest lateness ${fmtDur(Math.max(...pts.map((p) => p.late || 0)))}`);
    for (let k = 0; k <= 4; k++) {
      svg.appendChild(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: yD((maxD / 4) * k), y2: yD((maxD / 4) * k) }));
      svg.appendChild(s('text', { x: L - 5, y: yD((maxD / 4) * k) + 3, 'text-anchor': 'end' }, fmtDur((maxD / 4) * k)));
      svg.appendChild(s('text', { x: W - R + 5, y: yL((maxL / 4) * k) + 3 }, fmtDur((maxL / 4) * k)));
    }
    const line = [];
    pts.forEach((p, i) => {
      const x = L + i * bw;
      const g = s('g', null, s('title', null, `${fmtAbs.format(p.at)} · ${p.r.state || ''} · duration ${fmtDur(p.dur)} · lateness ${fmtDur(p.late)}`));
      if (p.dur !== null) g.appendChild(s('rect', { class: 'bar-dur' + (FAILED.has(p.r.state) ? ' bad' : ''), x: x + bw * 0.15, width: Math.max(1, bw * 0.7), y: yD(p.dur), height: T + ph - yD(p.dur) }));
      if (p.late !== null) {
        const cx = x + bw / 2;
        line.push(`${cx.toFixed(1)},${yL(p.late).toFixed(1)}`);
        g.appendChild(s('circle', { class: 'dot-late', cx, cy: yL(p.late), r: 2.5 }));
      }
      svg.appendChild(g);
    });
    if (line.length > 1) svg.insertBefore(s('polyline', { class: 'line-late', points: line.join(' ') }), svg.firstChild.nextSibling);
    svg.appendChild(s('text', { x: L, y: H - 5 }, fmtAbs.format(pts[0].at)));
    svg.appendChild(s('text', { x: W - R, y: H - 5, 'text-anchor': 'end' }, fmtAbs.format(pts[pts.length - 1].at)));
    return svg;
  }

  function legend(entries) {
    return h('div', { class: 'legend', 'aria-hidden': 'true' }, entries.map(([cls, text]) => h('span', null, h('i', { class: cls }), text)));
  }

  // ---------------------------------------------------------------- views

  // Fetches a list endpoint page by page, up to maxPages.
  async function fetchPages(path, params, maxPages) {
    let cursor = null;
    const all = [];
    for (let p = 0; p < maxPages; p++) {
      const { data } = await api(path + qs({ ...params, cursor }));
      all.push(...items(data));
      cursor = nextCursor(data);
      if (!cursor) return { items: all, truncated: false };
    }
    return { items: all, truncated: true };
  }

  function overviewView(main) {
    const leader = h('div', { class: 'card stat', id: 'leader-card', 'data-testid': 'leader' }, h('div', { class: 'label' }, 'Leader'), h('div', { class: 'value text' }, dash));
    const execs = h('div', { class: 'card stat', id: 'executors-card' }, h('div', { class: 'label' }, 'Executors up'), h('div', { class: 'value', id: 'executors-up', 'data-testid': 'executors-up' }, dash));
    const backlog = h('div', { class: 'card stat' }, h('div', { class: 'label' }, 'Results backlog'), h('div', { class: 'value', id: 'results-backlog' }, dash), h('div', { class: 'detail' }, 'results not yet recorded'));
    const dead = h('div', { class: 'card stat' }, h('div', { class: 'label' }, 'Dead letters'), h('div', { class: 'value', id: 'dead-letters' }, dash), h('div', { class: 'detail' }, 'events that exhausted their attempts'));
    const chartBox = h('div', { id: 'runs-chart-box' }, h('p', { class: 'muted' }, 'Loading…'));
    const counts = h('div', { class: 'state-counts', id: 'hour-counts', 'data-testid': 'hour-counts' });
    const queueBody = h('tbody');
    const failures = h('ul', { class: 'failure-list', id: 'recent-failures', 'data-testid': 'recent-failures' });
    main.append(
      pageHead('Overview', 'The cluster at a glance'),
      h('div', { class: 'grid grid-4' }, leader, execs, backlog, dead),
      h('div', { class: 'grid grid-main mt' },
        h('div', { class: 'stack' },
          h('section', { class: 'card', 'aria-labelledby': 'h-rpm' }, h('h2', { id: 'h-rpm' }, 'Runs per minute, last hour'), chartBox,
            legend([['k-ok', 'succeeded'], ['k-fail', 'failed, timed out or dead']])),
          h('section', { class: 'card', 'aria-labelledby': 'h-hour' }, h('h2', { id: 'h-hour' }, 'Runs in the last hour by state'), counts)),
        h('div', { class: 'stack' },
          h('section', { class: 'card', 'aria-labelledby': 'h-queues' }, h('h2', { id: 'h-queues' }, 'Queues'),
            h('div', { class: 'table-wrap' }, h('table', { id: 'queue-table', 'data-testid': 'queue-table' },
              h('thead', null, h('tr', null, h('th', null, 'Queue'), h('th', { class: 'num' }, 'Depth'), h('th', { class: 'num' }, 'Pending'), h('th', { class: 'num' }, 'Oldest pending'))),
              queueBody))),
          h('section', { class: 'card', 'aria-labelledby': 'h-fail' }, h('h2', { id: 'h-fail' }, 'Recent failures'), failures))));

    let hourAt = 0;
    let hourRuns = null;
    let hourTruncated = false;

    function renderCluster(c) {
      const l = c.leader || null;
      const v = leader.querySelector('.value');
      leader.querySelectorAll('.detail').forEach((x) => x.remove());
      if (!l || !l.node_id) {
        v.textContent = 'no leader';
        v.classList.add('stale');
        leader.append(h('div', { class: 'detail' }, 'no scheduler holds the lease'));
      } else {
        v.classList.remove('stale');
        v.replaceChildren(h('span', { id: 'leader-node', 'data-testid': 'leader-node' }, l.node_id));
        leader.append(h('div', { class: 'detail' }, 'epoch ', h('strong', { id: 'leader-epoch' }, l.epoch ?? dash), ' · since ', timeEl(l.since, { relative: true })));
      }
      $('#results-backlog', main).textContent = c.results_backlog ?? dash;
      $('#dead-letters', main).textContent = c.dead_letters ?? dash;
      const queues = Array.isArray(c.queues) ? c.queues : [];
      if (!queues.length) { queueBody.replaceChildren(emptyRow(4, 'No queues yet')); return; }
      syncRows(queueBody, queues, (q) => q.name, (q) => JSON.stringify(q), (q) => {
        const age = q.oldest_pending_age_ms;
        return h('tr', null,
          h('td', null, h('code', null, q.name)),
          h('td', { class: 'num' }, q.length ?? dash),
          h('td', { class: 'num' }, q.pending ?? dash),
          h('td', { class: 'num' + (age > 60000 ? ' stale' : '') }, age === null || age === undefined ? dash : fmtDur(age)));
      });
    }

    function renderHour() {
      if (!hourRuns) return;
      chartBox.replaceChildren(runsPerMinuteChart(hourRuns, Date.now()));
      const by = {};
      for (const r of hourRuns) by[r.state] = (by[r.state] || 0) + 1;
      const list = STATES.filter((st) => by[st]).map((st) => h('span', { class: 'badge st-' + st, 'data-state': st }, `${st.replace('_', ' ')} ${by[st]}${hourTruncated ? '+' : ''}`));
      counts.replaceChildren(...(list.length ? list : [h('span', { class: 'muted' }, 'No runs in the last hour')]));
    }

    function renderFailures(list) {
      if (!list.length) { failures.replaceChildren(h('li', { class: 'muted' }, 'No recent failures.')); return; }
      failures.replaceChildren(...list.map((r) => h('li', null,
        badge(r.state),
        jobLink(r.job_id),
        h('a', { href: '#/runs/' + enc(r.id) }, 'run ', h('code', null, shortId(r.id))),
        h('span', { class: 'muted small' }, timeEl(r.finished_at || r.scheduled_at, { relative: true })),
        r.error ? h('span', { class: 'err' }, String(r.error).slice(0, 200)) : null)));
    }

    async function refresh() {
      const now = Date.now();
      const wantHour = now - hourAt > 10000;
      const [cluster, executors, fails, hour] = await Promise.allSettled([
        api('/cluster'),
        api('/executors'),
        api('/runs' + qs({ state: ['failed', 'timed_out', 'dead'], limit: 8 })),
        wantHour ? fetchPages('/runs', { since: new Date(now - 3600000).toISOString(), limit: 500 }, 4) : Promise.resolve(null),
      ]);
      if (cluster.status === 'fulfilled') renderCluster(cluster.value.data);
      else leader.querySelector('.value').textContent = 'unavailable';
      if (executors.status === 'fulfilled') {
        const list = items(executors.value.data);
        const stale = list.filter((x) => { const d = toDate(x.last_heartbeat); return d && Date.now() - d.getTime() > 15000; }).length;
        $('#executors-up', main).textContent = list.length;
        execs.querySelectorAll('.detail').forEach((x) => x.remove());
        execs.append(h('div', { class: 'detail' + (stale ? ' stale' : '') }, stale ? `${stale} with a heartbeat older than 15 s` : 'all heartbeats fresh'));
      }
      if (fails.status === 'fulfilled') renderFailures(items(fails.value.data));
      if (hour.status === 'fulfilled' && hour.value) { hourRuns = hour.value.items; hourTruncated = hour.value.truncated; hourAt = now; }
      renderHour();
      const firstErr = [cluster, executors, fails, hour].find((r) => r.status === 'rejected');
      if (firstErr) throw firstErr.reason;
    }
    return { title: 'Overview', refresh };
  }

  function jobsView(main, parts, params) {
    const state = {
      q: params.get('q') || '', label: params.get('label') || '', queue: params.get('queue') || '',
      paused: params.get('paused') || '', last: params.get('last') || '', sort: params.get('sort') || 'name',
    };
    const stripCache = new Map();
    let page = [];
    let visible = new Set();

    const field = (id, text, control, hint) => h('div', { class: 'field' }, h('label', { for: id }, text), control, hint ? h('p', { class: 'hint' }, hint) : null);
    const search = h('input', { id: 'job-search', 'data-testid': 'job-search', type: 'search', value: state.q, placeholder: 'nightly-', autocomplete: 'off' });
    const label = h('input', { id: 'filter-label', type: 'text', value: state.label, placeholder: 'team:billing', autocomplete: 'off' });
    const queue = h('input', { id: 'filter-queue', type: 'text', value: state.queue, placeholder: 'default', autocomplete: 'off' });
    const paused = h('select', { id: 'filter-paused' },
      h('option', { value: '' }, 'Any'), h('option', { value: 'false' }, 'Active'), h('option', { value: 'true' }, 'Paused'));
    paused.value = state.paused;
    const last = h('select', { id: 'filter-last' }, h('option', { value: '' }, 'Any'), h('option', { value: 'never' }, 'never run'),
      STATES.map((st) => h('option', { value: st }, st.replace('_', ' '))));
    last.value = state.last;
    const sort = h('select', { id: 'job-sort' },
      h('option', { value: 'name' }, 'Name A–Z'), h('option', { value: '-name' }, 'Name Z–A'),
      h('option', { value: 'next' }, 'Next fire, soonest'), h('option', { value: 'last' }, 'Last run state'),
      h('option', { value: '-updated' }, 'Recently updated'));
    sort.value = state.sort;
    const tbody = h('tbody');
    const count = h('p', { class: 'sub', id: 'jobs-count', role: 'status' });
    const note = h('p', { class: 'hint', id: 'jobs-note' });
    const pager = new Pager(() => refresh(), 'jobs');

    main.append(
      pageHead('Jobs', count),
      h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs', onsubmit: (e) => e.preventDefault() },
        field('job-search', 'Name starts with', search),
        field('filter-label', 'Label', label),
        field('filter-queue', 'Queue', queue),
        field('filter-paused', 'Status', paused),
        field('filter-last', 'Last run', last),
        field('job-sort', 'Sort', sort)),
      h('section', { class: 'card' },
        h('div', { class: 'table-wrap' }, h('table', { id: 'job-table', 'data-testid': 'job-table' },
          h('caption', { class: 'muted small', hidden: true }, 'Jobs'),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Schedule'), h('th', { scope: 'col', class: 'opt-md' }, 'Time zone'),
            h('th', { scope: 'col' }, 'Next fire'), h('th', { scope: 'col' }, 'Last run'), h('th', { scope: 'col', class: 'opt-sm' }, 'Last 20'),
            h('th', { scope: 'col', class: 'opt-md' }, 'Queue'), h('th', { scope: 'col' }, 'Status'))),
          tbody)),
        note, pager.el));

    function syncHash() {
      const p = {};
      for (const k of ['q', 'label', 'queue', 'paused', 'last']) if (state[k]) p[k] = state[k];
      if (state.sort !== 'name') p.sort = state.sort;
      history.replaceState(null, '', '#/jobs' + qs(p));
    }
    let debounce = null;
    function onFilter(now) {
      state.q = search.value.trim(); state.label = label.value.trim(); state.queue = queue.value.trim();
      state.paused = paused.value; state.last = last.value; state.sort = sort.value;
      syncHash();
      clearTimeout(debounce);
      debounce = setTimeout(() => { pager.reset(); refresh().catch(() => {}); }, now ? 0 : 250);
    }
    for (const el of [search, label, queue]) el.addEventListener('input', () => onFilter(false));
    for (const el of [paused]) el.addEventListener('change', () => onFilter(true));
    for (const el of [last, sort]) el.addEventListener('change', () => { onFilter(false); render(); });

    const observer = 'IntersectionObserver' in window ? new IntersectionObserver((entries) => {
      for (const e of entries) {
        const id = e.target.dataset.key;
        if (e.isIntersecting) { visible.add(id); loadStrip(id); } else visible.delete(id);
      }
    }) : null;

    let inflight = 0;
    const queueStrips = [];
    function loadStrip(id) {
      const c = stripCache.get(id);
      if (c && (c.loading || Date.now() - c.at < STRIP_TTL_MS)) return;
      stripCache.set(id, { ...(c || {}), loading: true, at: c ? c.at : 0 });
      queueStrips.push(id);
      pump();
    }
    function pump() {
      while (inflight < 4 && queueStrips.length) {
        const id = queueStrips.shift();
        inflight++;
        api('/runs' + qs({ job: id, limit: 20 }))
          .then(({ data }) => { stripCache.set(id, { at: Date.now(), runs: items(data), loading: false }); paintStrip(id); })
          .catch(() => { const c = stripCache.get(id) || {}; stripCache.set(id, { ...c, at: Date.now(), loading: false }); })
          .finally(() => { inflight--; pump(); });
      }
    }
    function stripEl(id) {
      const c = stripCache.get(id);
      if (!c || !c.runs) return h('span', { class: 'muted small' }, '…');
      const runs = c.runs.slice(0, 20).reverse();
      const n = (st) => runs.filter((r) => (st === 'failed' ? FAILED.has(r.state) : r.state === st)).length;
      const cells = [];
      for (let i = runs.length; i < 20; i++) cells.push(h('span', { class: 'pad' }));
      for (const r of runs) cells.push(h('span', { class: 'st-' + r.state, title: `${r.state} · ${(toDate(r.scheduled_at) && fmtAbs.format(toDate(r.scheduled_at))) || ''}` }));
      return h('span', { class: 'strip', role: 'img', 'data-testid': 'run-strip', 'aria-label': runs.length ? `Last ${runs.length} runs: ${n('succeeded')} succeeded, ${n('failed')} failed` : 'No runs yet' }, cells);
    }
    function paintStrip(id) {
      const tr = Array.from(tbody.children).find((x) => x.dataset.key === id);
      if (tr) { const cell = tr.querySelector('.strip-cell'); cell.replaceChildren(stripEl(id)); }
    }

    function sorted(list) {
      const order = (st) => (st ? STATES.indexOf(st) : 99);
      const by = {
        name: (a, b) => String(a.name).localeCompare(String(b.name)),
        '-name': (a, b) => String(b.name).localeCompare(String(a.name)),
        next: (a, b) => ((toDate(nextFireOf(a)) || Infinity) - (toDate(nextFireOf(b)) || Infinity)),
        last: (a, b) => order(lastRunOf(b).state) - order(lastRunOf(a).state),
        '-updated': (a, b) => ((toDate(b.updated_at) || 0) - (toDate(a.updated_at) || 0)),
      }[state.sort] || (() => 0);
      return list.slice().sort(by);
    }

    function render() {
      let list = page;
      if (state.last) list = list.filter((j) => (state.last === 'never' ? !lastRunOf(j).state : lastRunOf(j).state === state.last));
      list = sorted(list);
      note.textContent = state.last || state.sort !== 'name'
        ? 'Last-run filter and sort apply to the jobs on this page.' : '';
      count.textContent = `${list.length} job${list.length === 1 ? '' : 's'} on this page${pager.next ? ', more on the next' : ''}`;
      if (!list.length) {
        tbody.replaceChildren(emptyRow(8, page.length ? 'No job on this page matches.' : 'No jobs match. Create one with POST /api/v1/jobs.'));
        return;
      }
      syncRows(tbody, list, (j) => j.id, (j) => JSON.stringify([j.version, j.name, j.paused, j.paused_reason, lastRunOf(j), nextFireOf(j), Math.floor(Date.now() / 10000), stripCache.get(String(j.id)) && stripCache.get(String(j.id)).at]), (j) => {
        const lr = lastRunOf(j);
        const nf = nextFireOf(j);
        const labels = labelsOf(j);
        const tr = h('tr', { 'data-job-id': j.id, 'data-testid': 'job-row' },
          h('td', null, h('a', { class: 'jobname', href: '#/jobs/' + enc(j.id), 'data-testid': 'job-link' }, j.name || shortId(j.id)),
            labels.length ? h('div', { class: 'labels' }, labels.slice(0, 3).map(([k, v]) => h('span', { class: 'chip' }, `${k}:${v}`)), labels.length > 3 ? h('span', { class: 'chip' }, `+${labels.length - 3}`) : null) : null),
          h('td', { 'data-label': 'Schedule' }, scheduleCell(j)),
          h('td', { class: 'opt-md nowrap' }, j.timezone || 'UTC'),
          h('td', { class: 'nowrap', 'data-label': 'Next fire' }, j.paused ? h('span', { class: 'muted' }, 'paused') : nf ? [timeEl(nf, { relative: true }), h('div', { class: 'muted small' }, timeEl(nf))] : h('span', { class: 'muted' }, dash)),
          h('td', { 'data-label': 'Last run' }, lr.id ? h('a', { href: '#/runs/' + enc(lr.id) }, badge(lr.state)) : badge(lr.state), lr.at ? h('div', { class: 'muted small' }, timeEl(lr.at, { relative: true })) : null),
          h('td', { class: 'strip-cell opt-sm' }, stripEl(String(j.id))),
          h('td', { class: 'opt-md' }, h('code', null, j.queue || 'default')),
          h('td', { 'data-label': 'Status' }, j.paused ? h('span', { class: 'badge paused', title: j.paused_reason || '' }, 'paused') : h('span', { class: 'muted small' }, 'active')));
        if (observer) observer.observe(tr); else loadStrip(String(j.id));
        return tr;
      });
    }

    async function refresh() {
      const { data } = await api('/jobs' + qs({ q: state.q, label: state.label, queue: state.queue, paused: state.paused, limit: 50, cursor: pager.cursor }));
      page = items(data);
      page.forEach(rememberJob);
      pager.setNext(nextCursor(data));
      for (const id of visible) loadStrip(id);
      render();
    }
    return { title: 'Jobs', refresh, destroy: () => observer && observer.disconnect() };
  }

  // ---- job detail

  // A JSON merge patch (RFC 7396) turning `a` into `b`.
  function mergeDiff(a, b) {
    const patch = {};
    const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
    for (const k of Object.keys(b)) {
      if (JSON.stringify(a[k]) === JSON.stringify(b[k])) continue;
      patch[k] = isObj(a[k]) && isObj(b[k]) ? mergeDiff(a[k], b[k]) : b[k];
    }
    for (const k of Object.keys(a)) if (!(k in b)) patch[k] = null;
    return patch;
  }

  function parseLabels(text) {
    const out = {};
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (!t) continue;
      const i = t.search(/[=:]/);
      if (i < 1) throw new Error(`labels: "${t}" is not key=value`);
      out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    return out;
  }

  function jobView(main, parts) {
    const jobId = parts[1];
    let job = null;
    let etag = null;
    let shownSig = null;
    let chartAt = 0;
    const head = h('div');
    const actions = h('div', { class: 'actions', id: 'job-actions' });
    const panel = h('div');
    const definition = h('div', { id: 'job-definition', 'data-testid': 'job-definition' });
    const nextFires = h('ol', { class: 'preview-list one-col', id: 'job-next-fires' });
    const chartBox = h('div', { id: 'job-chart-box' }, h('p', { class: 'muted' }, 'Loading…'));
    const editCard = h('section', { class: 'card', id: 'edit-card', hidden: true, 'aria-labelledby': 'h-edit' });
    const runBody = h('tbody');
    const stateSel = h('select', { id: 'runs-state' }, h('option', { value: '' }, 'Any'), STATES.map((st) => h('option', { value: st }, st.replace('_', ' '))));
    const trigSel = h('select', { id: 'runs-trigger' }, h('option', { value: '' }, 'Any'), TRIGGERS.map((t) => h('option', { value: t }, t)));
    const since = h('input', { id: 'runs-since', type: 'datetime-local' });
    const until = h('input', { id: 'runs-until', type: 'datetime-local' });
    const pager = new Pager(() => refreshRuns().catch(() => {}), 'runs');
    for (const el of [stateSel, trigSel, since, until]) el.addEventListener('change', () => { pager.reset(); refreshRuns().catch(() => {}); });
    const deleteDialog = h('dialog', { id: 'delete-dialog', 'aria-labelledby': 'delete-title' });

    main.append(
      head,
      actions,
      panel,
      h('div', { class: 'grid grid-main', id: 'job-grid' },
        h('section', { class: 'card', 'aria-labelledby': 'h-def' }, h('h2', { id: 'h-def' }, 'Definition'), definition),
        h('section', { class: 'card', 'aria-labelledby': 'h-next' }, h('h2', { id: 'h-next' }, 'Next fires'), nextFires)),
      editCard,
      h('section', { class: 'card', 'aria-labelledby': 'h-chart', id: 'chart-card' }, h('h2', { id: 'h-chart' }, 'Durations and lateness, recent runs'), chartBox,
        legend([['k-dur', 'duration (left axis; red: failed)'], ['k-late', 'lateness, started − scheduled (right axis)']])),
      h('section', { class: 'card', 'aria-labelledby': 'h-runs', id: 'run-history' },
        h('h2', { id: 'h-runs' }, 'Run history'),
        h('div', { class: 'filters filters-4' },
          h('div', { class: 'field' }, h('label', { for: 'runs-state' }, 'State'), stateSel),
          h('div', { class: 'field' }, h('label', { for: 'runs-trigger' }, 'Trigger'), trigSel),
          h('div', { class: 'field' }, h('label', { for: 'runs-since' }, 'Scheduled from'), since),
          h('div', { class: 'field' }, h('label', { for: 'runs-until' }, 'Scheduled before'), until)),
        h('div', { class: 'table-wrap' }, h('table', { id: 'run-table', 'data-testid': 'run-table' },
          h('thead', null, h('tr', null, h('th', null, 'Run'), h('th', null, 'State'), h('th', { class: 'opt-sm' }, 'Trigger'), h('th', { class: 'num opt-sm' }, 'Attempt'),
            h('th', null, 'Scheduled'), h('th', { class: 'num opt-md' }, 'Lateness'), h('th', { class: 'num' }, 'Duration'), h('th', { class: 'opt-md' }, 'Executor'), h('th', { class: 'num opt-sm' }, 'Exit'))),
          runBody)),
        pager.el),
      deleteDialog);
    for (const el of main.querySelectorAll('#job-grid, #edit-card, #chart-card, #run-history')) el.classList.add('mt');

    function renderHead() {
      const status = job.paused
        ? h('span', { class: 'badge paused big', id: 'job-status', 'data-testid': 'job-status' }, 'paused')
        : h('span', { class: 'badge st-succeeded big', id: 'job-status', 'data-testid': 'job-status' }, 'active');
      head.replaceChildren(pageHead(
        [h('span', { id: 'job-name' }, job.name || shortId(job.id)), ' ', status],
        [
          cronToWords(job.schedule) ? cronToWords(job.schedule) + ' · ' : '',
          h('code', null, job.schedule || dash), ' · ', job.timezone || 'UTC', ' · version ', String(job.version ?? dash),
          job.paused && job.paused_reason ? h('span', { id: 'paused-reason', 'data-testid': 'paused-reason' }, ' · paused: ', job.paused_reason) : null,
        ],
        null,
        [h('a', { href: '#/jobs' }, 'Jobs'), ' / ', job.name || shortId(job.id)]));
      actions.replaceChildren(
        actionButton('trigger-btn', 'Trigger now', (e) => trigger(e.currentTarget), 'btn btn-primary'),
        job.paused
          ? actionButton('resume-btn', 'Resume', (e) => resume(e.currentTarget))
          : actionButton('pause-btn', 'Pause…', () => openPanel('pause')),
        actionButton('edit-btn', 'Edit', () => openEdit()),
        actionButton('backfill-btn', 'Backfill…', () => openPanel('backfill')),
        actionButton('delete-btn', 'Delete…', () => openDelete(), 'btn btn-danger'));
      applyReadOnly();
    }

    function renderDefinition() {
      const kv = [];
      const row = (k, v) => kv.push(h('dt', null, k), h('dd', null, v));
      const t = job.target || {};
      row('Schedule', [cronToWords(job.schedule) || '', cronToWords(job.schedule) ? h('br') : null, h('code', { id: 'def-schedule' }, job.schedule || dash)]);
      row('Time zone', job.timezone || 'UTC');
      row('Queue', h('code', null, job.queue || 'default'));
      if (t.type === 'shell') row('Target', ['shell: ', h('code', null, (t.command || []).join(' '))]);
      else if (t.type === 'http') row('Target', ['http: ', h('code', null, `${t.method || 'GET'} ${t.url || ''}`)]);
      else if (t.type === 'event') row('Target', ['event → stream ', h('code', null, t.stream || dash)]);
      else row('Target', h('code', null, JSON.stringify(t)));
      row('Timeout', job.timeout_s !== undefined ? fmtDur(job.timeout_s * 1000) : dash);
      const r = job.retry || {};
      row('Retry', r.max_attempts !== undefined ? `${r.max_attempts} attempt${r.max_attempts === 1 ? '' : 's'}, backoff ${fmtDur(r.backoff_initial_ms)} to ${fmtDur(r.backoff_max_ms)}` : dash);
      row('Overlap', job.overlap || dash);
      const c = job.catchup || {};
      row('Catch-up', c.policy ? `${c.policy}${c.window_s !== undefined ? ', window ' + fmtDur(c.window_s * 1000) : ''}` : dash);
      row('Starting deadline', job.starting_deadline_s !== undefined && job.starting_deadline_s !== null ? fmtDur(job.starting_deadline_s * 1000) : dash);
      row('Jitter', job.jitter_s ? fmtDur(job.jitter_s * 1000) : 'none');
      const labels = labelsOf(job);
      row('Labels', labels.length ? h('div', { class: 'labels' }, labels.map(([k, v]) => h('span', { class: 'chip' }, `${k}:${v}`))) : h('span', { class: 'muted' }, 'none'));
      row('Description', job.description || h('span', { class: 'muted' }, 'none'));
      if (job.paused) row('Paused', job.paused_reason || 'no reason given');
      row('Created', timeEl(job.created_at));
      row('Updated', timeEl(job.updated_at));
      row('ID', h('code', null, job.id || dash));
      definition.replaceChildren(
        h('dl', { class: 'kv' }, kv),
        h('details', null, h('summary', null, 'As JSON'), h('pre', { class: 'output json', id: 'job-json' }, JSON.stringify(job, null, 2))));
      const fires = Array.isArray(job.next_fires) ? job.next_fires.map(fireAt).filter(Boolean) : [];
      nextFires.replaceChildren(...(job.paused ? [h('li', { class: 'muted' }, 'paused: no fires until resumed')]
        : fires.length ? fires.map((f) => h('li', null, fireEl(f, job.timezone), h('div', { class: 'muted small' }, fmtRel(toDate(f)))))
          : [h('li', { class: 'muted' }, 'none')]));
    }

    function closePanel() { panel.replaceChildren(); }
    function openPanel(kind) {
      if (kind === 'pause') {
        const reason = h('input', { id: 'pause-reason', type: 'text', placeholder: 'e.g. upstream maintenance until 14:00', maxlength: 500 });
        panel.replaceChildren(h('form', { class: 'inline-form', id: 'pause-form', onsubmit: (e) => { e.preventDefault(); pause($('#pause-confirm'), reason.value.trim()); } },
          h('div', { class: 'row' },
            h('div', { class: 'field' }, h('label', { for: 'pause-reason' }, 'Reason (optional, shown on the dashboard)'), reason),
            h('button', { type: 'submit', class: 'btn btn-primary', id: 'pause-confirm', 'data-action': '' }, 'Pause job'),
            h('button', { type: 'button', class: 'btn', onclick: closePanel }, 'Cancel'))));
        reason.focus();
      } else if (kind === 'backfill') {
        const now = new Date();
        const from = h('input', { id: 'backfill-from', type: 'datetime-local', value: isoToLocalInput(new Date(now.getTime() - 86400000)), required: true });
        const to = h('input', { id: 'backfill-to', type: 'datetime-local', value: isoToLocalInput(now), required: true });
        const dry = h('input', { id: 'backfill-dry', type: 'checkbox', checked: true });
        const out = h('div', { id: 'backfill-result', 'aria-live': 'polite' });
        panel.replaceChildren(h('form', { class: 'inline-form', id: 'backfill-form', onsubmit: (e) => { e.preventDefault(); backfill($('#backfill-submit'), from.value, to.value, dry.checked, out); } },
          h('div', { class: 'row' },
            h('div', { class: 'field' }, h('label', { for: 'backfill-from' }, 'From (your time)'), from),
            h('div', { class: 'field' }, h('label', { for: 'backfill-to' }, 'To (exclusive)'), to),
            h('label', { class: 'check', for: 'backfill-dry' }, dry, 'Dry run: list the ticks only'),
            h('button', { type: 'submit', class: 'btn btn-primary', id: 'backfill-submit', 'data-action': '' }, 'Backfill'),
            h('button', { type: 'button', class: 'btn', onclick: closePanel }, 'Close')),
          out));
        from.focus();
      }
      applyReadOnly();
    }

    function openDelete() {
      const confirmBtn = h('button', { type: 'button', class: 'btn btn-danger', id: 'delete-confirm', 'data-action': '', onclick: (e) => remove(e.currentTarget) }, 'Delete job');
      deleteDialog.replaceChildren(
        h('h2', { id: 'delete-title' }, `Delete ${job.name}?`),
        h('p', null, 'Future ticks stop at once. Its run history stays readable.'),
        h('div', { class: 'actions' }, confirmBtn, h('button', { type: 'button', class: 'btn', onclick: () => deleteDialog.close() }, 'Keep it')));
      applyReadOnly();
      if (deleteDialog.showModal) deleteDialog.showModal(); else deleteDialog.setAttribute('open', '');
    }

    async function trigger(btn) {
      const res = await act(btn, () => api(`/jobs/${enc(job.id)}/trigger`, { method: 'POST', body: {} }));
      if (!res) return;
      const d = res.data || {};
      const runId = d.id || d.run_id || (d.run && d.run.id);
      toast('Triggered ' + job.name + (runId ? ': run ' + shortId(runId) : ''));
      if (runId) location.hash = '#/runs/' + enc(runId);
      else refresh().catch(() => {});
    }
    async function pause(btn, reason) {
      const res = await act(btn, () => api(`/jobs/${enc(job.id)}/pause`, { method: 'POST', body: reason ? { reason } : {} }));
      if (!res) return;
      toast('Paused ' + job.name);
      closePanel();
      if (res.data && res.data.id) { job = res.data; shownSig = null; show(); }
      await refresh().catch(() => {});
      const b = $('#resume-btn'); if (b) b.focus();
    }
    async function resume(btn) {
      const res = await act(btn, () => api(`/jobs/${enc(job.id)}/resume`, { method: 'POST', body: {} }));
      if (!res) return;
      toast('Resumed ' + job.name);
      if (res.data && res.data.id) { job = res.data; shownSig = null; show(); }
      await refresh().catch(() => {});
      const b = $('#pause-btn'); if (b) b.focus();
    }
    async function backfill(btn, from, to, dry, out) {
      const body = { from: localInputToIso(from), to: localInputToIso(to), dry_run: dry };
      const res = await act(btn, () => api(`/jobs/${enc(job.id)}/backfill`, { method: 'POST', body }));
      if (!res) return;
      const d = res.data || {};
      const list = Array.isArray(d) ? d : d.ticks || d.items || d.runs || d.fires || [];
      const n = d.count ?? list.length;
      out.replaceChildren(
        h('p', null, dry ? `${n} tick${n === 1 ? '' : 's'} in that range (dry run, nothing queued).` : `${n} run${n === 1 ? '' : 's'} queued.`),
        list.length ? h('ol', { class: 'preview-list' }, list.slice(0, 20).map((t) => {
          const at = typeof t === 'string' ? t : t.scheduled_at || t.at;
          const id = typeof t === 'object' ? t.id || t.run_id : null;
          return h('li', null, id ? h('a', { href: '#/runs/' + enc(id) }, timeEl(at)) : timeEl(at));
        }), list.length > 20 ? h('li', { class: 'muted' }, `and ${list.length - 20} more`) : null) : null);
      if (!dry) refreshRuns().catch(() => {});
    }
    async function remove(btn) {
      const res = await act(btn, () => api(`/jobs/${enc(job.id)}`, { method: 'DELETE', headers: etag ? { 'If-Match': etag } : {} }));
      if (deleteDialog.open) deleteDialog.close();
      if (!res) return;
      toast('Deleted ' + job.name);
      location.hash = '#/jobs';
    }

    // ---- edit form: validates the schedule as you type through the preview endpoint
    function openEdit() {
      const t = (v) => (v === undefined || v === null ? '' : String(v));
      const input = (id, label, value, attrs = {}, hint) => {
        const el = h('input', { id, name: id, value: t(value), ...attrs });
        return [el, h('div', { class: 'field' + (attrs.wide ? ' wide' : '') }, h('label', { for: id }, label), el,
          hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null,
          h('p', { class: 'field-error', id: id + '-error', role: 'alert', hidden: true }))];
      };
      const select = (id, label, value, options) => {
        const el = h('select', { id, name: id }, options.map((o) => h('option', { value: o }, o)));
        el.value = value || options[0];
        return [el, h('div', { class: 'field' }, h('label', { for: id }, label), el, h('p', { class: 'field-error', id: id + '-error', role: 'alert', hidden: true }))];
      };
      const [schedule, fSchedule] = input('edit-schedule', 'Schedule', job.schedule, { autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'edit-schedule-hint schedule-error', 'data-testid': 'edit-schedule' },
        'Cron with 5, 6 or 7 fields, @daily, @every 90s or @at 2026-12-01T09:00:00Z');
      const words = h('p', { class: 'hint', id: 'schedule-words', 'aria-live': 'polite' });
      const err = h('p', { class: 'field-error', id: 'schedule-error', 'data-testid': 'schedule-error', role: 'alert', hidden: true });
      const preview = h('ol', { class: 'preview-list', id: 'schedule-preview', 'data-testid': 'schedule-preview', 'aria-label': 'Next 10 fires' });
      fSchedule.querySelector('#edit-schedule-error').remove();
      fSchedule.append(words, err, preview);
      fSchedule.classList.add('wide');
      const [tz, fTz] = input('edit-timezone', 'Time zone', job.timezone || 'UTC', { autocomplete: 'off', spellcheck: 'false' }, 'IANA name, e.g. Europe/Berlin');
      const [queue, fQueue] = input('edit-queue', 'Queue', job.queue || 'default', { autocomplete: 'off' });
      const [timeout, fTimeout] = input('edit-timeout_s', 'Timeout (seconds)', job.timeout_s, { type: 'number', min: 1 });
      const [overlap, fOverlap] = select('edit-overlap', 'Overlap', job.overlap, ['allow', 'forbid', 'replace']);
      const [catchup, fCatchup] = select('edit-catchup', 'Catch-up policy', (job.catchup || {}).policy, ['none', 'latest', 'all']);
      const [attempts, fAttempts] = input('edit-retry', 'Retry: max attempts', (job.retry || {}).max_attempts, { type: 'number', min: 1, max: 100 });
      const [deadline, fDeadline] = input('edit-starting_deadline_s', 'Starting deadline (seconds)', job.starting_deadline_s, { type: 'number', min: 0 });
      const [desc, fDesc] = input('edit-description', 'Description', job.description, { wide: true });
      const labelsText = h('textarea', { id: 'edit-labels', rows: 3 }, labelsOf(job).map(([k, v]) => `${k}=${v}`).join('\n'));
      const targetText = h('textarea', { id: 'edit-target', rows: 6, spellcheck: 'false' }, JSON.stringify(job.target || {}, null, 2));
      const formErr = h('p', { class: 'field-error', id: 'edit-form-error', role: 'alert', hidden: true });
      const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'edit-save', 'data-action': '' }, 'Save');
      const form = h('form', { id: 'edit-form', 'data-testid': 'edit-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(); } },
        h('div', { class: 'form-grid' },
          fSchedule, fTz, fQueue, fTimeout, fOverlap, fCatchup, fAttempts, fDeadline, fDesc,
          h('div', { class: 'field wide' }, h('label', { for: 'edit-labels' }, 'Labels, one key=value a line'), labelsText,
            h('p', { class: 'field-error', id: 'edit-labels-error', role: 'alert', hidden: true })),
          h('div', { class: 'field wide' }, h('label', { for: 'edit-target' }, 'Target (JSON)'), targetText,
            h('p', { class: 'field-error', id: 'edit-target-error', role: 'alert', hidden: true }))),
        formErr,
        h('div', { class: 'actions' }, save, h('button', { type: 'button', class: 'btn', onclick: () => { editCard.hidden = true; $('#edit-btn') && $('#edit-btn').focus(); } }, 'Cancel')));
      editCard.replaceChildren(h('h2', { id: 'h-edit' }, 'Edit ', job.name), form);
      editCard.hidden = false;
      applyReadOnly();

      let seq = 0;
      let timer = null;
      function showFieldError(id, msg) {
        const el = $('#' + id, form);
        if (!el) return false;
        el.textContent = msg || '';
        el.hidden = !msg;
        return true;
      }
      async function validate() {
        const my = ++seq;
        const expr = schedule.value.trim();
        words.textContent = cronToWords(expr) ? 'In words: ' + cronToWords(expr) : '';
        if (!expr) {
          err.textContent = 'schedule: required'; err.hidden = false; schedule.setAttribute('aria-invalid', 'true'); preview.replaceChildren();
          return;
        }
        try {
          const { data } = await api('/schedules/preview', { method: 'POST', body: { schedule: expr, timezone: tz.value.trim(), count: 10 } });
          if (my !== seq) return;
          err.hidden = true; err.textContent = '';
          schedule.removeAttribute('aria-invalid'); tz.removeAttribute('aria-invalid'); showFieldError('edit-timezone-error', '');
          const fires = (Array.isArray(data) ? data : data.fires || data.items || []).map(fireAt).filter(Boolean);
          preview.replaceChildren(...(fires.length ? fires.map((f) => h('li', null, fireEl(f, tz.value.trim()))) : [h('li', { class: 'muted' }, 'never fires')]));
        } catch (e) {
          if (my !== seq) return;
          preview.replaceChildren();
          if (e.field === 'timezone') {
            tz.setAttribute('aria-invalid', 'true'); showFieldError('edit-timezone-error', e.message);
            err.hidden = true;
          } else {
            schedule.setAttribute('aria-invalid', 'true');
            err.textContent = e.message; err.hidden = false;
          }
        }
      }
      const soon = () => { clearTimeout(timer); timer = setTimeout(validate, 300); };
      schedule.addEventListener('input', soon);
      tz.addEventListener('input', soon);
      validate();
      schedule.focus();

      async function submit() {
        formErr.hidden = true;
        for (const p of $$('.field-error', form)) if (p !== err) p.hidden = true;
        let target, labels;
        try { target = JSON.parse(targetText.value); } catch (e) { showFieldError('edit-target-error', 'target: not valid JSON (' + e.message + ')'); return; }
        try { labels = parseLabels(labelsText.value); } catch (e) { showFieldError('edit-labels-error', e.message); return; }
        const num = (el) => (el.value.trim() === '' ? undefined : Number(el.value));
        const next = {
          schedule: schedule.value.trim(), timezone: tz.value.trim(), queue: queue.value.trim(),
          timeout_s: num(timeout), overlap: overlap.value, description: desc.value,
          catchup: { ...(job.catchup || {}), policy: catchup.value },
          retry: { ...(job.retry || {}), max_attempts: num(attempts) },
          starting_deadline_s: num(deadline), labels, target,
        };
        const before = {};
        for (const k of Object.keys(next)) before[k] = job[k];
        for (const k of Object.keys(next)) if (next[k] === undefined) { delete next[k]; delete before[k]; }
        if (job.retry === undefined) { delete next.retry; delete before.retry; }
        if (job.description === undefined && next.description === '') { delete next.description; delete before.description; }
        const patch = mergeDiff(before, next);
        if (!Object.keys(patch).length) { toast('Nothing changed'); editCard.hidden = true; return; }
        const res = await act(save, async () => {
          try {
            return await api(`/jobs/${enc(job.id)}`, { method: 'PATCH', body: patch, headers: { 'Content-Type': 'application/merge-patch+json', ...(etag ? { 'If-Match': etag } : {}) } });
          } catch (e) {
            if (e.status === 412) throw new Error('Someone else changed this job meanwhile; reload it and edit again');
            if (e.status === 400 || e.status === 422) {
              const f = (e.field || '').split('.')[0];
              const id = f === 'schedule' ? 'schedule-error' : f === 'catchup' ? 'edit-catchup-error' : f === 'retry' ? 'edit-retry-error' : 'edit-' + f + '-error';
              if (!(f && showFieldError(id, e.message))) { formErr.textContent = e.message; formErr.hidden = false; }
              return null;
            }
            throw e;
          }
        });
        if (!res) return;
        toast(`Saved ${job.name}: version ${res.data.version ?? ''}`);
        editCard.hidden = true;
        if (res.data && res.data.id) { job = res.data; etag = res.etag || etag; shownSig = null; show(); }
        refresh().catch(() => {});
      }
    }

    function show() {
      rememberJob(job);
      const sig = JSON.stringify([job.version, job.paused, job.paused_reason, job.updated_at, Math.floor(Date.now() / 30000)]);
      if (sig === shownSig) return;
      shownSig = sig;
      const focusedId = document.activeElement && document.activeElement.id;
      renderHead();
      renderDefinition();
      if (focusedId && !$('#' + focusedId) && $('#trigger-btn')) $('#trigger-btn').focus();
      else if (focusedId && $('#' + focusedId) && document.activeElement === document.body) $('#' + focusedId).focus();
    }

    async function refreshRuns() {
      if (!job) return;
      const { data } = await api('/runs' + qs({
        job: job.id, state: stateSel.value, trigger: trigSel.value,
        since: localInputToIso(since.value), until: localInputToIso(until.value), limit: 25, cursor: pager.cursor,
      }));
      const list = items(data);
      pager.setNext(nextCursor(data));
      if (!list.length) { runBody.replaceChildren(emptyRow(9, 'No runs match.')); return; }
      syncRows(runBody, list, (r) => r.id, (r) => JSON.stringify([r.state, r.attempt, r.started_at, r.finished_at, r.executor_id, r.exit_code, Math.floor(Date.now() / 10000)]), (r) =>
        h('tr', { 'data-run-id': r.id },
          h('td', null, h('a', { href: '#/runs/' + enc(r.id) }, h('code', null, shortId(r.id)))),
          h('td', null, badge(r.state)),
          h('td', { class: 'opt-sm' }, r.trigger || dash),
          h('td', { class: 'num opt-sm' }, r.attempt ?? dash),
          h('td', { class: 'nowrap' }, timeEl(r.scheduled_at)),
          h('td', { class: 'num opt-md' }, fmtDur(between(r.scheduled_at, r.started_at))),
          h('td', { class: 'num' }, fmtDur(between(r.started_at, r.finished_at))),
          h('td', { class: 'opt-md' }, r.executor_id ? h('code', null, r.executor_id) : dash),
          h('td', { class: 'num opt-sm' }, r.exit_code ?? r.http_status ?? dash)));
    }

    async function refreshChart() {
      if (!job || Date.now() - chartAt < 10000) return;
      chartAt = Date.now();
      const { data } = await api('/runs' + qs({ job: job.id, limit: 60 }));
      chartBox.replaceChildren(durationChart(items(data)));
    }

    async function refresh() {
      let res;
      try {
        res = await api('/jobs/' + enc(jobId));
      } catch (e) {
        if (e.status === 404) {
          head.replaceChildren(pageHead('Job not found', `No job "${jobId}". It may have been deleted.`, null, [h('a', { href: '#/jobs' }, 'Jobs')]));
          actions.replaceChildren();
          return;
        }
        throw e;
      }
      job = res.data;
      etag = res.etag || etag;
      show();
      await Promise.all([refreshRuns(), refreshChart()]);
    }
    return { title: 'Job', refresh };
  }

  // ---- run detail

  function runView(main, parts) {
    const runId = parts[1];
    const view = { title: 'Run', refresh, interval: POLL_MS };
    const head = h('div');
    const actions = h('div', { class: 'actions' });
    const timeline = h('ol', { class: 'timeline', id: 'run-timeline', 'data-testid': 'run-timeline' });
    const details = h('dl', { class: 'kv', id: 'run-details' });
    const attempts = h('div', { id: 'run-attempts' });
    const stdout = h('pre', { class: 'output', id: 'run-stdout', 'data-testid': 'run-stdout', tabindex: '0', 'aria-label': 'Standard output' });
    const stderr = h('pre', { class: 'output', id: 'run-stderr', 'data-testid': 'run-stderr', tabindex: '0', 'aria-label': 'Standard error' });
    const liveNote = h('p', { class: 'muted small', id: 'run-live', 'aria-live': 'polite' });
    main.append(head, actions,
      h('section', { class: 'card', 'aria-labelledby': 'h-tl', id: 'tl-card' }, h('h2', { id: 'h-tl' }, 'Timeline'), timeline, liveNote),
      h('div', { class: 'grid grid-2', id: 'run-grid' },
        h('section', { class: 'card', 'aria-labelledby': 'h-det' }, h('h2', { id: 'h-det' }, 'Details'), details),
        h('section', { class: 'card', 'aria-labelledby': 'h-att' }, h('h2', { id: 'h-att' }, 'Attempts'), attempts)),
      h('section', { class: 'card', 'aria-labelledby': 'h-out', id: 'out-card' }, h('h2', { id: 'h-out' }, 'Output'),
        h('h3', null, 'stdout'), stdout, h('h3', null, 'stderr'), stderr));
    for (const el of main.querySelectorAll('#tl-card, #run-grid, #out-card')) el.classList.add('mt');
    let lastState = null;

    function render(r) {
      const terminal = TERMINAL.has(r.state);
      const stateChanged = lastState !== r.state;
      lastState = r.state;
      head.replaceChildren(pageHead(
        ['Run ', h('code', null, shortId(r.id)), ' ', badge(r.state, { big: true, id: 'run-state', testid: 'run-state' })],
        [r.trigger ? r.trigger + ' run' : 'run', ' of ', jobLink(r.job_id), r.attempt ? ` · attempt ${r.attempt}` : ''],
        null,
        [h('a', { href: '#/jobs' }, 'Jobs'), ' / ', jobLink(r.job_id), ' / run']));
      if (stateChanged) {
        actions.replaceChildren(...(terminal ? [] : [actionButton('cancel-btn', 'Cancel run', (e) => cancel(e.currentTarget), 'btn btn-danger')]));
        applyReadOnly();
      }
      const steps = [['Scheduled', r.scheduled_at], ['Emitted', r.emitted_at], ['Started', r.started_at], ['Finished', r.finished_at]];
      let prev = null;
      timeline.replaceChildren(...steps.map(([label, at], i) => {
        const li = h('li', { class: at ? 'done' : '', 'data-step': label.toLowerCase() },
          h('div', { class: 't-label' }, label),
          h('div', { class: 't-time' }, at ? timeEl(at, { clock: true }) : h('span', { class: 'muted' }, i === 3 && !terminal ? 'running…' : dash)),
          at && prev ? h('div', { class: 't-delta' }, '+' + fmtDur(between(prev, at)) + ' after ' + steps[i - 1][0].toLowerCase()) : at ? h('div', { class: 't-delta' }, timeEl(at)) : null);
        if (at) prev = at;
        return li;
      }));
      liveNote.textContent = terminal ? 'Finished; checked again every 15 s.' : 'Live: refreshing every 2 s while the run is in progress.';
      const kv = [];
      const row = (k, v, id) => kv.push(h('dt', null, k), h('dd', { id: id || null }, v ?? dash));
      row('Job', jobLink(r.job_id));
      row('Job version', r.job_version);
      row('Trigger', r.trigger);
      row('Attempt', r.attempt);
      row('Executor', r.executor_id ? h('code', null, r.executor_id) : dash, 'run-executor');
      row('Exit code', r.exit_code, 'run-exit-code');
      if (r.http_status !== null && r.http_status !== undefined) row('HTTP status', r.http_status);
      row('Lateness', fmtDur(r.lateness_ms ?? between(r.scheduled_at, r.started_at)));
      row('Duration', fmtDur(between(r.started_at, r.finished_at)));
      row('Error', r.error ? h('span', { class: 'stale' }, r.error) : dash, 'run-error');
      row('Run ID', h('code', null, r.id));
      details.replaceChildren(...kv);
      const list = Array.isArray(r.attempts) ? r.attempts : [];
      attempts.replaceChildren(list.length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'attempt-table' },
          h('thead', null, h('tr', null, h('th', null, '#'), h('th', null, 'State'), h('th', null, 'Started'), h('th', { class: 'num' }, 'Duration'), h('th', null, 'Executor'), h('th', { class: 'num' }, 'Exit'))),
          h('tbody', null, list.map((a) => h('tr', null,
            h('td', null, a.attempt ?? dash), h('td', null, badge(a.state)), h('td', null, timeEl(a.started_at, { clock: true })),
            h('td', { class: 'num' }, fmtDur(between(a.started_at, a.finished_at))),
            h('td', null, a.executor_id ? h('code', null, a.executor_id) : dash), h('td', { class: 'num' }, a.exit_code ?? a.http_status ?? dash))))))
        : h('p', { class: 'muted' }, r.attempt > 1 ? `Attempt ${r.attempt}; earlier attempts are not listed by this API.` : 'One attempt.'));
      setPre(stdout, r.stdout, terminal ? '(no output)' : '(nothing yet)');
      setPre(stderr, r.stderr, terminal ? '(nothing on stderr)' : '(nothing yet)');
      view.interval = terminal ? 15000 : POLL_MS;
    }

    function setPre(pre, text, empty) {
      const value = text === null || text === undefined || text === '' ? empty : String(text);
      if (pre.textContent === value) return;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = value;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }

    async function cancel(btn) {
      const res = await act(btn, () => api(`/runs/${enc(runId)}/cancel`, { method: 'POST', body: {} }));
      if (!res) return;
      toast('Cancel requested');
      refresh().catch(() => {});
    }

    async function refresh() {
      try {
        const { data } = await api('/runs/' + enc(runId));
        render(data.run && !data.id ? data.run : data);
      } catch (e) {
        if (e.status === 404) {
          head.replaceChildren(pageHead('Run not found', 'It may not be recorded yet; this page keeps looking.', null, [h('a', { href: '#/jobs' }, 'Jobs')]));
          return;
        }
        throw e;
      }
    }
    return view;
  }

  function executorsView(main) {
    const tbody = h('tbody');
    const count = h('p', { class: 'sub', id: 'executors-count', role: 'status' });
    main.append(pageHead('Executors', count),
      h('section', { class: 'card' }, h('div', { class: 'table-wrap' }, h('table', { id: 'executor-table', 'data-testid': 'executor-table' },
        h('thead', null, h('tr', null, h('th', null, 'Executor'), h('th', null, 'Host'), h('th', null, 'Queues'), h('th', { class: 'num' }, 'Running'), h('th', { class: 'num' }, 'Heartbeat'), h('th', { class: 'opt-sm' }, 'Version'))),
        tbody))));
    async function refresh() {
      const { data } = await api('/executors');
      const list = items(data).slice().sort((a, b) => String(a.host || a.id).localeCompare(String(b.host || b.id)));
      count.textContent = `${list.length} executor${list.length === 1 ? '' : 's'} up`;
      if (!list.length) { tbody.replaceChildren(emptyRow(6, 'No live executors. Start one with `chime executor --queues default`.')); return; }
      syncRows(tbody, list, (x) => x.id, (x) => JSON.stringify([x, Math.floor(Date.now() / 1000)]), (x) => {
        const hb = toDate(x.last_heartbeat);
        const age = hb ? Date.now() - hb.getTime() : null;
        return h('tr', { 'data-executor-id': x.id },
          h('td', null, h('code', null, x.id || dash)),
          h('td', null, x.host || dash),
          h('td', null, h('div', { class: 'labels' }, (Array.isArray(x.queues) ? x.queues : []).map((q) => h('span', { class: 'chip' }, q)))),
          h('td', { class: 'num' }, x.running ?? dash),
          h('td', { class: 'num' + (age !== null && age > 15000 ? ' stale' : '') }, hb ? h('time', { datetime: hb.toISOString(), title: fmtAbs.format(hb) + ' · ' + utcTitle(hb) }, fmtAge(age) + ' ago') : dash),
          h('td', { class: 'opt-sm' }, x.version || dash));
      });
    }
    return { title: 'Executors', refresh };
  }

  function notFoundView(main) {
    main.append(pageHead('Not found', 'No such page in the dashboard.'), h('p', null, h('a', { href: '#/' }, 'Back to the overview')));
    return { title: 'Not found', refresh: async () => {} };
  }

  // ---------------------------------------------------------------- router and poller

  let current = null;
  let pollTimer = null;
  let polling = false;

  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  async function tick() {
    stopPolling();
    const view = current;
    if (!view || document.hidden || signInShown || polling) return;
    polling = true;
    try {
      await view.refresh();
      if (view === current) setLive('live', 'Live · updated ' + fmtClockSec.format(new Date()));
    } catch (err) {
      if (view === current && err.status !== 401) setLive('error', err.status === 403 ? 'Read-only token' : 'Trouble: ' + err.message);
    } finally {
      polling = false;
      if (view === current && !document.hidden && !signInShown) {
        stopPolling();
        pollTimer = setTimeout(tick, view.interval || POLL_MS);
      }
    }
  }

  function route(focus) {
    if (current && current.destroy) current.destroy();
    current = null;
    stopPolling();
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, query = ''] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
    const params = new URLSearchParams(query);
    let make = notFoundView;
    let nav = null;
    if (!parts.length) { make = overviewView; nav = 'overview'; }
    else if (parts[0] === 'jobs' && parts.length === 1) { make = jobsView; nav = 'jobs'; }
    else if (parts[0] === 'jobs' && parts.length === 2) { make = jobView; nav = 'jobs'; }
    else if (parts[0] === 'runs' && parts.length === 2) { make = runView; nav = 'jobs'; }
    else if (parts[0] === 'executors') { make = executorsView; nav = 'executors'; }
    for (const a of $$('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    const main = $('#main');
    main.replaceChildren();
    const view = make(main, parts, params);
    current = view;
    document.title = (view.title ? view.title + ' · ' : '') + 'Chime';
    document.body.dataset.view = nav || 'notfound';
    applyReadOnly();
    if (focus) {
      const h1 = $('h1', main);
      (h1 || main).focus({ preventScroll: false });
    }
    polling = false;
    tick();
  }

  function start() {
    $('#signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const token = $('#token-input').value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('#toast').replaceChildren();
      setReadOnly(false);
      hideSignIn();
      updateSignOut();
      route(true);
    });
    $('#sign-out').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      setReadOnly(false);
      updateSignOut();
      showSignIn('Signed out. Sign in with a token.');
    });
    window.addEventListener('hashchange', () => { if (!signInShown) route(true); });
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) { stopPolling(); setLive('paused', 'Paused while the tab is hidden'); } else tick();
    });
    updateSignOut();
    if (auth.readOnly) setReadOnly(true);
    route(false);
  }

  // Exposed for tests and for the console; not an API.
  window.chime = { cronToWords, mergeDiff };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
