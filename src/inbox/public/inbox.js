/* ticketflow inbox: progressive enhancement only. Every page works without this file; with it, the queue
 * updates itself, times show in the agent's time zone, and the keyboard shortcuts work.
 * Data from the server is only ever written with textContent, never parsed as HTML. */
/* global document, window, CSS, URLSearchParams */
'use strict';

(function () {
  var POLL_MS = 4000;
  var page = document.body.getAttribute('data-page');

  // ── Formatting (mirrors src/inbox/format.ts) ─────────────────────────────────────────────────────
  function duration(ms) {
    var seconds = Math.max(0, Math.round(Math.abs(ms) / 1000));
    if (seconds < 60) return seconds + 's';
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + 'm';
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + 'h ' + String(minutes % 60).padStart(2, '0') + 'm';
    return Math.floor(hours / 24) + 'd ' + (hours % 24) + 'h';
  }

  var localFormat = new Intl.DateTimeFormat(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });

  function announce(text) {
    var region = document.getElementById('live-announcer');
    if (region) region.textContent = text;
  }

  function refreshTimes(root) {
    var now = Date.now();
    root.querySelectorAll('time[data-local]').forEach(function (el) {
      el.textContent = localFormat.format(new Date(el.getAttribute('datetime')));
    });
    root.querySelectorAll('time[data-sla]').forEach(function (el) {
      var due = new Date(el.getAttribute('datetime')).getTime();
      var overdue = due < now;
      el.textContent = overdue ? 'Overdue ' + duration(now - due) : 'Due in ' + duration(due - now);
      el.classList.toggle('sla-overdue', overdue);
      el.classList.toggle('sla-soon', !overdue && due - now < 3600000);
    });
    root.querySelectorAll('time[data-age]').forEach(function (el) {
      el.textContent = duration(now - new Date(el.getAttribute('datetime')).getTime());
    });
  }

  // ── Live queue count (every page) and live queue rows (queue page) ─────────────────────────────────
  function setCounts(open, overdue) {
    var badge = document.getElementById('nav-open-count');
    if (badge) {
      badge.textContent = String(open);
      badge.setAttribute('aria-label', open + ' open escalations');
      badge.classList.toggle('badge-danger', overdue > 0);
    }
    var openEl = document.getElementById('queue-open-count');
    if (openEl) openEl.textContent = String(open);
    var overdueEl = document.getElementById('queue-overdue-count');
    if (overdueEl) {
      overdueEl.textContent = String(overdue);
      overdueEl.classList.toggle('text-danger', overdue > 0);
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function timeEl(iso, attribute, className, title) {
    var node = el('time', className);
    node.setAttribute('datetime', iso);
    node.setAttribute(attribute, '');
    if (title) node.title = title;
    return node;
  }

  function queueRow(item) {
    var row = el('tr', item.overdue ? 'row-overdue' : '');
    row.setAttribute('data-ticket-id', item.ticketId);
    row.setAttribute('data-href', item.href);

    var sla = el('td');
    sla.appendChild(timeEl(item.slaDueAt, 'data-sla', 'sla', 'SLA due ' + item.slaDueAt));
    row.appendChild(sla);

    var urgency = el('td');
    urgency.appendChild(
      el(
        'span',
        'chip ' + (item.urgency ? 'chip-urgency-' + item.urgency : 'chip-muted'),
        item.urgencyLabel || 'unknown',
      ),
    );
    row.appendChild(urgency);

    var ticket = el('td', 'cell-ticket');
    var link = el('a', 'row-link', item.subject || '(no subject)');
    link.href = item.href;
    ticket.appendChild(link);
    ticket.appendChild(el('span', 'snippet', item.snippet));
    row.appendChild(ticket);

    var intent = el('td');
    intent.appendChild(item.intentLabel ? el('span', 'tag', item.intentLabel) : el('span', 'muted', '—'));
    row.appendChild(intent);

    var reason = el('td');
    reason.appendChild(el('span', 'reason reason-' + item.reason, item.reasonLabel));
    row.appendChild(reason);

    var customer = el('td', 'cell-customer');
    if (item.customerName || item.customerEmail)
      customer.appendChild(document.createTextNode(item.customerName || item.customerEmail));
    else customer.appendChild(el('span', 'muted', 'anonymous'));
    if (item.customerName && item.customerEmail)
      customer.appendChild(el('span', 'snippet', item.customerEmail));
    row.appendChild(customer);

    var age = el('td');
    age.appendChild(timeEl(item.receivedAt, 'data-age', '', 'Received ' + item.receivedAt));
    row.appendChild(age);
    return row;
  }

  function queueSignature(ids) {
    return ids.join('\n');
  }

  function renderQueue(data) {
    var body = document.getElementById('queue-rows');
    if (!body) return;
    var currentIds = Array.prototype.map.call(body.querySelectorAll('tr[data-ticket-id]'), function (row) {
      return row.getAttribute('data-ticket-id');
    });
    var nextIds = data.items.map(function (item) {
      return item.ticketId;
    });
    // Same tickets in the same order: leave the DOM (and the keyboard focus) alone.
    if (queueSignature(currentIds) === queueSignature(nextIds)) return;
    var focusedRow =
      document.activeElement && body.contains(document.activeElement)
        ? document.activeElement.closest('tr')
        : null;
    var focusedId = focusedRow ? focusedRow.getAttribute('data-ticket-id') : null;
    var before = {};
    body.querySelectorAll('tr[data-ticket-id]').forEach(function (row) {
      before[row.getAttribute('data-ticket-id')] = true;
    });
    var selected = body.querySelector('tr.selected');
    var selectedId = selected ? selected.getAttribute('data-ticket-id') : null;
    var fresh = document.createDocumentFragment();
    var arrived = 0;
    var after = {};
    data.items.forEach(function (item) {
      var row = queueRow(item);
      after[item.ticketId] = true;
      if (!before[item.ticketId]) {
        row.classList.add('row-new');
        arrived++;
      }
      if (item.ticketId === selectedId) row.classList.add('selected');
      fresh.appendChild(row);
    });
    var left = Object.keys(before).filter(function (id) {
      return !after[id];
    }).length;
    body.replaceChildren(fresh);
    refreshTimes(body);
    if (focusedId) {
      var again = body.querySelector('tr[data-ticket-id="' + CSS.escape(focusedId) + '"] a.row-link');
      if (again) again.focus();
    }
    var shown = document.getElementById('queue-shown-count');
    if (shown) shown.textContent = String(data.items.length);
    var empty = document.getElementById('queue-empty');
    if (empty) empty.classList.toggle('hidden', data.items.length > 0);
    if (arrived || left) {
      var parts = [];
      if (arrived) parts.push(arrived + ' new ticket' + (arrived === 1 ? '' : 's'));
      if (left) parts.push(left + ' resolved');
      announce(parts.join(', ') + '. ' + data.open + ' open.');
    }
  }

  var pollTimer = null;
  /** Fetch the queue once; unless `once`, keep polling every POLL_MS (the fallback without server-sent events). */
  function poll(once) {
    var table = document.getElementById('queue-table');
    var url = table ? table.getAttribute('data-poll-url') : '/inbox/api/queue';
    var dot = document.querySelector('.live-dot');
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign(
            '/inbox/login?expired=1&next=' +
              encodeURIComponent(window.location.pathname + window.location.search),
          );
          return null;
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        if (dot) dot.classList.remove('stale');
        setCounts(data.open, data.overdue);
        if (table) renderQueue(data);
      })
      .catch(function () {
        if (dot) dot.classList.add('stale');
      })
      .finally(function () {
        if (once !== true) pollTimer = setTimeout(poll, POLL_MS);
      });
  }

  // ── Queue interactions ────────────────────────────────────────────────────────────────────────────
  function queueRows() {
    return Array.prototype.slice.call(document.querySelectorAll('#queue-rows tr[data-href]'));
  }

  function selectRow(offset) {
    var rows = queueRows();
    if (!rows.length) return;
    var current = rows.findIndex(function (row) {
      return row.classList.contains('selected');
    });
    var next = current === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, current + offset));
    rows.forEach(function (row) {
      row.classList.remove('selected');
    });
    rows[next].classList.add('selected');
    var link = rows[next].querySelector('a.row-link');
    if (link) link.focus();
  }

  if (page === 'queue') {
    var rowsBody = document.getElementById('queue-rows');
    if (rowsBody) {
      rowsBody.addEventListener('click', function (event) {
        if (event.target.closest('a')) return;
        var row = event.target.closest('tr[data-href]');
        if (row) window.location.assign(row.getAttribute('data-href'));
      });
    }
    var filterForm = document.querySelector('form[data-autosubmit]');
    if (filterForm) {
      filterForm.querySelectorAll('select').forEach(function (select) {
        select.addEventListener('change', function () {
          filterForm.requestSubmit();
        });
      });
    }
  }

  // ── Ticket page: send once, and notice when someone else resolved it ────────────────────────────────
  if (page === 'ticket') {
    var form = document.getElementById('resolve-form');
    var send = document.getElementById('send-answer');
    var answer = document.getElementById('answer');
    if (form && send) {
      form.addEventListener('submit', function () {
        // Let the browser submit, but not twice.
        setTimeout(function () {
          send.disabled = true;
          send.textContent = 'Sending…';
        }, 0);
      });
    }
    if (answer && form) {
      answer.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    }
    var header = document.getElementById('ticket-header');
    if (header && header.getAttribute('data-open') === 'true') {
      var stateUrl = header.getAttribute('data-state-url');
      var watch = function () {
        fetch(stateUrl, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
          .then(function (response) {
            return response.ok ? response.json() : null;
          })
          .then(function (state) {
            if (state && state.resolvedAt) {
              var banner = document.getElementById('resolved-elsewhere');
              if (banner) {
                banner.textContent =
                  'Already resolved by ' +
                  (state.resolvedBy || 'someone else') +
                  ' at ' +
                  localFormat.format(new Date(state.resolvedAt)) +
                  '. Sending now would be refused; reload to see their answer.';
                banner.classList.remove('hidden');
              }
              if (send) send.disabled = true;
              var stage = document.getElementById('ticket-stage');
              if (stage) stage.textContent = 'Resolved';
              return;
            }
            setTimeout(watch, POLL_MS);
          })
          .catch(function () {
            setTimeout(watch, POLL_MS);
          });
      };
      setTimeout(watch, POLL_MS);
    }
  }

  // ── Sign-in page reached from a link on another site (chat, email) ─────────────────────────────────
  // SameSite=Strict keeps the session cookie off cross-site navigations, so the server sends even a signed-in
  // agent here (marked retry=1). Ask once more from this same-site page: with a session the cookie now goes
  // along; without one the server answers with this page again, unmarked, so there is no loop.
  if (page === 'login') {
    var params = new URLSearchParams(window.location.search);
    var next = params.get('next');
    if (
      params.get('retry') === '1' &&
      next &&
      /^\/inbox\/[A-Za-z0-9/_\-.?=&%]*$/.test(next) &&
      next.indexOf('..') === -1
    ) {
      window.location.replace(next);
      return;
    }
  }

  // ── Keyboard shortcuts ─────────────────────────────────────────────────────────────────────────────
  var pendingG = null;
  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing) {
      if (event.key === 'Escape') target.blur();
      return;
    }
    if (pendingG) {
      clearTimeout(pendingG);
      pendingG = null;
      var destinations = { q: '/inbox/queue', k: '/inbox/knowledge', m: '/inbox/metrics' };
      if (destinations[event.key]) {
        event.preventDefault();
        window.location.assign(destinations[event.key]);
      }
      return;
    }
    if (event.key === 'g') {
      pendingG = setTimeout(function () {
        pendingG = null;
      }, 1200);
      return;
    }
    if (event.key === '?') {
      var dialog = document.getElementById('shortcuts');
      if (dialog && typeof dialog.showModal === 'function') {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    if (event.key === '/') {
      var field = document.querySelector('main input[type="search"], main form[role="search"] select');
      if (field) {
        event.preventDefault();
        field.focus();
      }
      return;
    }
    if (page === 'queue' && (event.key === 'j' || event.key === 'k')) {
      event.preventDefault();
      selectRow(event.key === 'j' ? 1 : -1);
      return;
    }
    if (page === 'queue' && event.key === 'Enter') {
      var selectedRow = document.querySelector('#queue-rows tr.selected');
      if (selectedRow) window.location.assign(selectedRow.getAttribute('data-href'));
    }
  });

  refreshTimes(document);
  setInterval(function () {
    refreshTimes(document);
  }, 30000);
  // Live counts: server-sent events push a change the moment the queue changes (one shared query on the
  // server for every open page); the page then refetches its own list. Polling every POLL_MS is the fallback
  // where EventSource is missing or keeps failing (e.g. the session expired: poll() sees the 401 and signs out).
  function listen() {
    var table = document.getElementById('queue-table');
    var dot = document.querySelector('.live-dot');
    var failures = 0;
    var lastVersion = null;
    var source = new window.EventSource('/inbox/api/events', { withCredentials: true });
    source.addEventListener('queue', function (event) {
      failures = 0;
      if (dot) dot.classList.remove('stale');
      var state = JSON.parse(event.data);
      setCounts(state.open, state.overdue);
      if (table && lastVersion !== null && state.version !== lastVersion) {
        clearTimeout(pollTimer);
        poll(true);
      }
      lastVersion = state.version;
    });
    source.onerror = function () {
      failures += 1;
      if (dot) dot.classList.add('stale');
      if (failures >= 3) {
        source.close();
        pollTimer = setTimeout(poll, 0);
      }
    };
  }

  if (document.getElementById('nav-open-count')) {
    if (window.EventSource) listen();
    else pollTimer = setTimeout(poll, POLL_MS);
  }
})();
