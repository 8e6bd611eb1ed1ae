// wfmon dashboard: theme, live updates, and the buttons that change things.
// Every state-changing request goes through send(), which adds the CSRF header when the
// page carries a csrf-token meta tag.
(function () {
  'use strict';

  var THEME_KEY = 'wfmon-theme';
  var root = document.documentElement;

  function storedTheme() {
    try {
      var t = window.localStorage.getItem(THEME_KEY);
      return t === 'dark' || t === 'light' ? t : null;
    } catch (e) {
      return null;
    }
  }

  // Set before the body is drawn, so a remembered theme never flashes.
  var remembered = storedTheme();
  if (remembered) {
    root.setAttribute('data-theme', remembered);
  }

  function effectiveTheme() {
    var set = root.getAttribute('data-theme');
    if (set) {
      return set;
    }
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  function labelThemeButton() {
    var button = document.getElementById('theme-toggle');
    if (!button) {
      return;
    }
    var next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    button.textContent = next === 'dark' ? 'Dark theme' : 'Light theme';
    button.setAttribute('aria-label', 'Switch to the ' + next + ' theme');
  }

  function toggleTheme() {
    var next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    root.setAttribute('data-theme', next);
    try {
      window.localStorage.setItem(THEME_KEY, next);
    } catch (e) {
      // Private modes may refuse storage; the choice then lasts for this page.
    }
    labelThemeButton();
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : null;
  }

  // The one way this script changes anything on the server.
  function send(method, url, body) {
    var headers = { Accept: 'application/json' };
    var token = csrfToken();
    if (token) {
      headers['X-CSRF-Token'] = token;
    }
    var options = { method: method, headers: headers, credentials: 'same-origin' };
    if (body !== undefined && body !== null) {
      headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!response.ok) {
          var message = data && data.message ? data.message : 'the server answered ' + response.status;
          throw new Error(message);
        }
        return data;
      });
    });
  }

  function announce(text) {
    var status = document.getElementById('live-status');
    if (status) {
      status.textContent = text;
    }
  }

  function showError(text) {
    var notice = document.getElementById('notice');
    if (!notice) {
      return;
    }
    notice.textContent = text;
    notice.hidden = false;
  }

  function clearError() {
    var notice = document.getElementById('notice');
    if (notice) {
      notice.hidden = true;
      notice.textContent = '';
    }
  }

  // Live updates: fetch this page again and swap <main> and the parts marked data-live.
  var refreshing = false;
  var again = false;
  var timer = null;

  function isEditing(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    return tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA';
  }

  function scheduleRefresh() {
    if (timer) {
      return;
    }
    timer = window.setTimeout(function () {
      timer = null;
      refresh();
    }, 150);
  }

  function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    var main = document.getElementById('main');
    if (!main) {
      return;
    }
    if (main.contains(document.activeElement) && isEditing(document.activeElement)) {
      // Someone is typing: update when they leave the field.
      again = true;
      document.activeElement.addEventListener('blur', scheduleRefresh, { once: true });
      return;
    }
    refreshing = true;
    fetch(window.location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('the page answered ' + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        swap(fresh);
        document.body.setAttribute('data-updated', String(Date.now()));
      })
      .catch(function (error) {
        announce('Could not update the page: ' + error.message);
      })
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          scheduleRefresh();
        }
      });
  }

  function swap(fresh) {
    var main = document.getElementById('main');
    var freshMain = fresh.getElementById('main');
    if (!main || !freshMain) {
      return;
    }
    var focused = document.activeElement;
    var focusId = focused && main.contains(focused) ? focused.id : null;
    var focusKey = focused && main.contains(focused) ? actionKey(focused) : null;
    var open = [];
    main.querySelectorAll('details[open][id]').forEach(function (d) {
      open.push(d.id);
    });
    main.replaceChildren.apply(main, Array.prototype.slice.call(freshMain.childNodes));
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) {
        d.open = true;
      }
    });
    // The navigation's alert count.
    var nav = document.querySelector('header nav');
    var freshNav = fresh.querySelector('header nav');
    if (nav && freshNav) {
      nav.replaceChildren.apply(nav, Array.prototype.slice.call(freshNav.childNodes));
    }
    var target = focusId ? document.getElementById(focusId) : null;
    if (!target && focusKey) {
      target = main.querySelector('[data-url="' + focusKey + '"]');
    }
    if (target) {
      target.focus();
    }
  }

  function actionKey(element) {
    var url = element.getAttribute && element.getAttribute('data-url');
    return url && /^[\w\/@%.~-]+$/.test(url) ? url : null;
  }

  function describe(type, data) {
    if (type === 'run.finished') {
      return data.workflowName + ' in ' + data.environment + ' finished: ' + data.status;
    }
    if (type === 'run.started') {
      return data.workflowName + ' in ' + data.environment + ' started';
    }
    if (type === 'alert.changed' && data.alert) {
      return 'Alert ' + data.change + ': ' + data.alert.workflowName + ' in ' + data.alert.environment;
    }
    return null;
  }

  var source = null;
  var retry = 1000;
  var wasDown = false;

  function connect() {
    if (!window.EventSource) {
      announce('This browser cannot receive live updates; reload to see changes.');
      return;
    }
    source = new EventSource('/api/events');
    source.onopen = function () {
      retry = 1000;
      announce('Live: the page updates by itself.');
      document.body.setAttribute('data-live', 'connected');
      if (wasDown) {
        wasDown = false;
        scheduleRefresh();
      }
    };
    source.onerror = function () {
      wasDown = true;
      document.body.setAttribute('data-live', 'reconnecting');
      announce('Live updates interrupted; reconnecting…');
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        window.setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    };
    ['run.started', 'run.finished', 'execution.recorded', 'alert.changed', 'report.generated', 'lagged'].forEach(function (type) {
      source.addEventListener(type, function (event) {
        var data = null;
        try {
          data = JSON.parse(event.data);
        } catch (e) {
          data = null;
        }
        var text = data ? describe(type, data) : null;
        if (text) {
          announce(text);
        }
        scheduleRefresh();
      });
    });
  }

  function act(element, body) {
    var url = element.getAttribute('data-url');
    var method = element.getAttribute('data-method') || 'POST';
    var done = element.getAttribute('data-done') || 'Done';
    element.setAttribute('aria-busy', 'true');
    element.disabled = true;
    clearError();
    return send(method, url, body)
      .then(function () {
        announce(done);
        // A form that did its work closes, so the next refresh does not reopen it.
        var details = element.closest('details');
        if (details) {
          details.open = false;
        }
        refresh();
      })
      .catch(function (error) {
        showError(done.replace(/^\w+ /, '') + ' failed: ' + error.message);
      })
      .then(function () {
        element.removeAttribute('aria-busy');
        element.disabled = false;
      });
  }

  function onClick(event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    if (target.closest('#theme-toggle')) {
      toggleTheme();
      return;
    }
    var button = target.closest('button.act');
    if (button && !button.disabled) {
      var raw = button.getAttribute('data-body');
      var body;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch (e) {
          body = undefined;
        }
      }
      act(button, body);
    }
  }

  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains('act-form')) {
      return;
    }
    event.preventDefault();
    var body = {};
    new FormData(form).forEach(function (value, key) {
      body[key] = String(value);
    });
    var submit = form.querySelector('button[type="submit"]') || form;
    submit.setAttribute('data-url', form.getAttribute('data-url'));
    submit.setAttribute('data-done', form.getAttribute('data-done') || 'Done');
    if (document.activeElement) {
      document.activeElement.blur();
    }
    act(submit, body);
  }

  document.addEventListener('DOMContentLoaded', function () {
    labelThemeButton();
    if (window.matchMedia) {
      var query = window.matchMedia('(prefers-color-scheme: dark)');
      if (query.addEventListener) {
        query.addEventListener('change', labelThemeButton);
      }
    }
    document.addEventListener('click', onClick);
    document.addEventListener('submit', onSubmit);
    connect();
  });

  // A page left behind must not keep its stream open: browsers allow only a few connections
  // per server, and the next page would wait for one.
  window.addEventListener('pagehide', function () {
    if (source) {
      source.close();
      source = null;
    }
  });
  window.addEventListener('pageshow', function (event) {
    if (event.persisted && !source) {
      connect();
      scheduleRefresh();
    }
  });

  // For tests and the console: the one request function.
  window.wfmon = { send: send, refresh: refresh };
})();
