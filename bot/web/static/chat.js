// The citizen web chat. Every message is built from text nodes (textContent), never parsed as
// markup, so nothing a citizen or an officer writes can run as code on this page.
'use strict';

const MAX_FILE_BYTES = 20 * 1024 * 1024;  // the server's limit (bot.core.attachments)
const POLL_MS = 4000;
const TEXT = {
  notSent: 'Dạ, chưa gửi được tin nhắn. Ông/Bà vui lòng thử lại sau ít phút.',
  fileTooBig: 'Dạ, tệp lớn quá (tối đa 20 MB). Ông/Bà vui lòng gửi tệp nhỏ hơn hoặc quay video ngắn hơn ạ.',
  fileNotSent: 'Dạ, chưa gửi được tệp. Ông/Bà vui lòng kiểm tra mạng rồi thử lại ạ.',
  sending: 'Đang gửi…',
  sent: 'Đã gửi',
  noGeo: 'Dạ, trình duyệt này chưa cho phép gửi vị trí. Ông/Bà vui lòng nhắn tên thôn, đường hoặc địa điểm gần đó ạ.',
  geoDenied: 'Dạ, Ông/Bà chưa cho phép chia sẻ vị trí. Nếu muốn gửi, Ông/Bà bật quyền vị trí cho trang này trong cài đặt trình duyệt; hoặc nhắn tên thôn, đường, địa điểm gần đó ạ.',
  geoUnavailable: 'Dạ, chưa xác định được vị trí (có thể GPS đang tắt). Ông/Bà vui lòng thử lại, hoặc nhắn tên thôn, đường, địa điểm gần đó ạ.',
  geoTimeout: 'Dạ, lấy vị trí lâu quá. Ông/Bà vui lòng thử lại ở nơi thoáng hơn, hoặc nhắn địa điểm bằng chữ ạ.',
  locating: '📍 Đang lấy vị trí…',
  locate: '📍 Gửi vị trí',
  myLocation: '📍 Vị trí của tôi',
  more: '✍️ Bổ sung',
};
const KIND = {image: '🖼️ Ảnh', video: '🎬 Video', audio: '🎙️ Ghi âm'};

const log = document.getElementById('log');
const input = document.getElementById('text');
const fileInput = document.getElementById('file');
const locateButton = document.getElementById('locate');
const replying = document.getElementById('replying');
const replyingText = document.getElementById('replying-text');
const shown = new Set();
let replyTo = null;  // {id, ticket}: the next message adds information to that ticket

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // also on plain http
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function append(node) {
  log.appendChild(node);
  log.scrollTop = log.scrollHeight;
  return node;
}

function mine(text) { return append(element('div', 'msg me', text)); }
function notice(text) { return append(element('div', 'msg notice', text)); }

function status(bubble, text, isError) {
  let line = bubble.querySelector('.status');
  if (!line) line = bubble.appendChild(element('span', 'status'));
  line.textContent = text;
  line.classList.toggle('error', Boolean(isError));
}

function showBot(message) {
  if (shown.has(message.id)) return;  // a poll and a reply may both carry it
  shown.add(message.id);
  const bubble = element('div', 'msg bot', message.text || '');
  if (message.buttons && message.buttons.length) {
    const row = bubble.appendChild(element('div', 'buttons'));
    for (const b of message.buttons) {
      const button = row.appendChild(element('button', '', b.title));
      button.type = 'button';
      button.onclick = () => { mine(b.title); sendJSON({button: b.key}); };
    }
  }
  if (message.ticket) {
    const more = bubble.appendChild(element('button', 'more', TEXT.more));
    more.type = 'button';
    more.setAttribute('aria-label', 'Bổ sung thông tin cho đơn ' + message.ticket);
    more.onclick = () => startReply(message);
  }
  append(bubble);
}

function showAll(data) { ((data && data.messages) || []).forEach(showBot); }

function startReply(message) {
  replyTo = {id: String(message.id), ticket: message.ticket};
  replyingText.textContent = 'Bổ sung cho đơn ' + message.ticket +
    ': Ông/Bà nhắn thêm nội dung, gửi ảnh hoặc vị trí.';
  replying.hidden = false;
  input.focus();
}

function takeReply() {
  const id = replyTo ? replyTo.id : null;
  replyTo = null;
  replying.hidden = true;
  return id;
}

document.getElementById('replying-cancel').onclick = () => { takeReply(); input.focus(); };

const pause = ms => new Promise(done => setTimeout(done, ms));

// One client_message_id for all attempts: the server stores a retried message once.
async function sendJSON(body, bubble) {
  body.client_message_id = newId();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const response = await fetch('/api/chat/messages', {
        method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
      const data = await response.json().catch(() => ({}));
      if (response.ok) { showAll(data); return true; }
      if (response.status < 500) {
        if (bubble) status(bubble, data.error || TEXT.notSent, true);
        else notice(data.error || TEXT.notSent);
        return false;
      }
    } catch (e) { /* offline or the server restarting: try again */ }
    await pause(1500 * (attempt + 1));
  }
  if (bubble) status(bubble, TEXT.notSent, true); else notice(TEXT.notSent);
  return false;
}

// XMLHttpRequest, not fetch: only it reports upload progress.
function postFile(form, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', '/api/chat/upload');
    request.responseType = 'json';
    request.timeout = 10 * 60 * 1000;
    request.upload.onprogress = e => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    request.onload = () => resolve({status: request.status, data: request.response || {}});
    request.onerror = request.ontimeout = () => reject(new Error('network'));
    request.send(form);
  });
}

function fileBubble(file, caption) {
  const bubble = mine('');
  if (file.type.startsWith('image/')) {
    const preview = bubble.appendChild(element('img', 'preview'));
    preview.alt = file.name;
    preview.src = URL.createObjectURL(file);
    preview.onload = () => URL.revokeObjectURL(preview.src);
  }
  const kind = KIND[file.type.split('/')[0]] || '📎 Tệp';
  bubble.appendChild(document.createTextNode(kind + ': ' + file.name));
  if (caption) bubble.appendChild(document.createTextNode('\n' + caption));
  log.scrollTop = log.scrollHeight;
  return bubble;
}

async function sendFile(file) {
  const caption = input.value.trim();
  input.value = '';
  const bubble = fileBubble(file, caption);
  if (file.size > MAX_FILE_BYTES) { status(bubble, TEXT.fileTooBig, true); return; }
  const form = new FormData();  // the fields first: the server reads them before the file
  form.append('client_message_id', newId());
  if (caption) form.append('caption', caption);
  const reply = takeReply();
  if (reply) form.append('reply_to', reply);
  form.append('file', file, file.name);
  status(bubble, TEXT.sending);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const {status: code, data} = await postFile(form, share =>
        status(bubble, TEXT.sending + ' ' + Math.round(share * 100) + '%'));
      if (code >= 200 && code < 300) { status(bubble, TEXT.sent); showAll(data); return; }
      if (code < 500) { status(bubble, data.error || TEXT.fileNotSent, true); return; }
    } catch (e) { /* the network dropped: the same id makes the retry safe */ }
    await pause(2000 * (attempt + 1));
  }
  status(bubble, TEXT.fileNotSent, true);
}

document.getElementById('attach').onclick = () => fileInput.click();
fileInput.onchange = () => {
  const file = fileInput.files && fileInput.files[0];
  fileInput.value = '';  // choosing the same file again still fires change
  if (file) sendFile(file);
};

function locationFailed(error) {
  if (error && error.code === 1) return TEXT.geoDenied;
  if (error && error.code === 3) return TEXT.geoTimeout;
  return TEXT.geoUnavailable;
}

locateButton.onclick = () => {
  if (!('geolocation' in navigator) || !window.isSecureContext) { notice(TEXT.noGeo); return; }
  locateButton.disabled = true;
  locateButton.textContent = TEXT.locating;
  const done = () => { locateButton.disabled = false; locateButton.textContent = TEXT.locate; };
  navigator.geolocation.getCurrentPosition(position => {
    done();
    const {latitude, longitude, accuracy} = position.coords;
    const bubble = mine(TEXT.myLocation + (accuracy ? ' (sai số khoảng ' +
      Math.round(accuracy) + ' m)' : ''));
    const body = {location: {latitude, longitude}};
    const reply = takeReply();
    if (reply) body.reply_to = reply;
    sendJSON(body, bubble);
  }, error => { done(); notice(locationFailed(error)); },
  {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
};

function sendText() {
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  input.style.height = '';
  const bubble = mine(text);
  const body = {text};
  const reply = takeReply();
  if (reply) body.reply_to = reply;
  sendJSON(body, bubble);
}

document.getElementById('composer').onsubmit = e => { e.preventDefault(); sendText(); input.focus(); };
input.addEventListener('input', () => {  // grow with the text, up to the CSS max-height
  input.style.height = '';
  input.style.height = input.scrollHeight + 'px';
});
input.addEventListener('keydown', e => {
  // Enter sends with a keyboard; on a phone Enter makes a new line and "Gửi" sends.
  if (e.key === 'Enter' && !e.shiftKey && matchMedia('(pointer: fine)').matches) {
    e.preventDefault();
    sendText();
  }
});

// Status updates and officers' answers arrive by polling; fetched means delivered.
let polling = false;
async function poll() {
  if (polling || document.hidden) return;
  polling = true;
  try {
    const response = await fetch('/api/chat/messages', {credentials: 'same-origin'});
    if (response.ok) showAll(await response.json());
  } catch (e) { /* offline: the next poll tries again */ }
  polling = false;
}
document.addEventListener('visibilitychange', poll);
setInterval(poll, POLL_MS);
sendJSON({text: '/start'});
