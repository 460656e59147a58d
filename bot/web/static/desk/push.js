/* "Bật thông báo" on the desk's notices page: registers /desk/sw.js, subscribes this browser
   to Web Push with the server's key and sends the subscription to the desk (CSRF header).
   Markup it uses: <p id="push-status"> and, if the page has it,
   <button type="button" id="push-enable">Bật thông báo</button> (else it adds one). */
(function () {
  'use strict';
  var status = document.getElementById('push-status');
  if (!status) return;
  var button = document.getElementById('push-enable');
  if (!button) {
    button = document.createElement('button');
    button.type = 'button';
    button.id = 'push-enable';
    status.parentNode.insertBefore(button, status);
  }
  button.textContent = 'Bật thông báo';

  function say(text) { status.textContent = text; }

  if (!('serviceWorker' in navigator) || !('PushManager' in window) ||
      !('Notification' in window) || !window.isSecureContext) {
    button.hidden = true;
    say(window.isSecureContext
      ? 'Trình duyệt này chưa hỗ trợ thông báo đẩy; anh/chị vẫn xem thông báo tại trang này.'
      : 'Thông báo đẩy cần trang được mở bằng https.');
    return;
  }

  function csrf() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : '';
  }

  function keyBytes(b64url) {
    var b64 = (b64url + '==='.slice((b64url.length + 3) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
    });
  }

  function registration() {
    return navigator.serviceWorker.register('/desk/sw.js', { scope: '/desk/' })
      .then(function () { return navigator.serviceWorker.ready; });
  }

  function currentSubscription() {  // without registering a worker nobody asked for
    return navigator.serviceWorker.getRegistration('/desk/').then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    });
  }

  function show(subscription) {
    if (subscription && Notification.permission === 'granted') {
      button.textContent = 'Tắt thông báo';
      button.dataset.on = '1';
      say('Đã bật thông báo trên trình duyệt này.');
    } else {
      button.textContent = 'Bật thông báo';
      delete button.dataset.on;
      say(Notification.permission === 'denied'
        ? 'Anh/chị đã chặn thông báo của trang này; hãy cho phép trong cài đặt trang của trình duyệt.'
        : 'Bật để nhận thông báo đơn mới trên điện thoại hoặc máy tính này.');
    }
  }

  function enable() {
    return Notification.requestPermission().then(function (permission) {
      if (permission !== 'granted') throw new Error('permission ' + permission);
      return Promise.all([
        fetch('/desk/push/key', { credentials: 'same-origin' }).then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        }),
        registration()
      ]);
    }).then(function (both) {
      var reg = both[1];
      return reg.pushManager.getSubscription().then(function (existing) {
        return existing || reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(both[0].publicKey)
        });
      });
    }).then(function (subscription) {
      return post('/desk/push/subscribe', subscription.toJSON()).then(function () {
        return subscription;
      });
    });
  }

  function disable() {
    return currentSubscription().then(function (subscription) {
      if (!subscription) return null;
      return post('/desk/push/unsubscribe', { endpoint: subscription.endpoint })
        .then(function () { return subscription.unsubscribe(); })
        .then(function () { return null; });
    });
  }

  button.addEventListener('click', function () {
    button.disabled = true;
    (button.dataset.on ? disable() : enable()).then(show, function () {
      say('Chưa bật được thông báo. Anh/chị vui lòng thử lại sau.');
    }).then(function () { button.disabled = false; });
  });

  currentSubscription().then(show, function () { show(null); });
}());
