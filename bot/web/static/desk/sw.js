/* Nghe Dân desk service worker (scope /desk/): shows an officer's notice sent by Web Push and
   opens its page when tapped. Only pages of the desk on this site are opened. */
'use strict';

function deskUrl(raw) {
  var fallback = new URL('/desk/notices', self.location.origin);
  try {
    var url = new URL(raw || '', self.location.origin);
    if (url.pathname.indexOf('/desk/') !== 0) return fallback.href;
    return new URL(url.pathname + url.search, self.location.origin).href;
  } catch (e) {
    return fallback.href;
  }
}

self.addEventListener('push', function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : '' };
  }
  var options = {
    body: data.body || 'Anh/chị có thông báo mới trên bàn làm việc.',
    tag: data.tag || 'nghedan',
    lang: 'vi',
    renotify: true,
    data: { url: deskUrl(data.url) }
  };
  event.waitUntil(self.registration.showNotification(data.title || 'Nghe Dân', options));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var target = deskUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true })
    .then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        if (windows[i].url === target && 'focus' in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target);
    }));
});

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });
