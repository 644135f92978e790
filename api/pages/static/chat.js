// The chat page: posts a question with the session's CSRF token and reads the answer as
// server-sent events from the response body. Everything received is inserted as text, never HTML.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var send = document.getElementById("send");
  var transcript = document.getElementById("transcript");
  var modelInput = document.getElementById("chat-model");
  var versionInput = document.getElementById("chat-version");
  var decisionInput = document.getElementById("chat-decision");
  var contextPill = document.getElementById("chat-context");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeHref(href) {
    // Only our own paths and http(s) links; anything else stays text.
    return typeof href === "string" && /^(\/[^\/\\]|https?:\/\/)/.test(href) ? href : null;
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) name = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      try { onEvent(name, JSON.parse(data)); } catch (e) { onEvent("error", { text: "bad event" }); }
    });
    return rest;
  }

  function ask(question) {
    var wrap = el("div", "msg");
    wrap.appendChild(el("div", "msg-q", question));
    var status = el("div", "msg-status", "…");
    var answer = el("div", "msg-a");
    answer.hidden = true;
    var cites = el("div", "citations");
    wrap.appendChild(status);
    wrap.appendChild(answer);
    wrap.appendChild(cites);
    transcript.appendChild(wrap);
    transcript.scrollTop = transcript.scrollHeight;
    var body = { question: question };
    if (modelInput.value) body.model = modelInput.value;
    if (versionInput.value) body.version = parseInt(versionInput.value, 10);
    if (decisionInput.value) body.decision_id = decisionInput.value;
    send.disabled = true;
    return fetch("/chat/messages", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "text/event-stream" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (t) {
          var detail = t;
          try { detail = JSON.parse(t).detail; } catch (e) { /* plain text */ }
          throw new Error(response.status + ": " + detail);
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function onEvent(name, data) {
        if (name === "context") {
          modelInput.value = data.model;
          versionInput.value = data.version;
          contextPill.textContent = data.model + " v" + data.version;
        } else if (name === "status") {
          status.textContent = data.text;
        } else if (name === "token") {
          status.hidden = true;
          answer.hidden = false;
          answer.textContent += data.text;
        } else if (name === "citations") {
          if (data.length) cites.appendChild(el("span", "muted", "cites:"));
          data.forEach(function (c) {
            var href = safeHref(c.href);
            var node = href ? el("a", "cite cite-" + c.kind, c.label) : el("code", "cite", c.label);
            if (href) { node.href = href; if (/^https?:/.test(href)) node.rel = "noopener noreferrer"; }
            cites.appendChild(node);
          });
        } else if (name === "error") {
          status.hidden = false;
          status.className = "msg-status msg-error";
          status.textContent = data.text;
        } else if (name === "done") {
          if (data.fallback_reason) cites.appendChild(el("span", "muted", "(answered offline: " + data.fallback_reason + ")"));
        }
        transcript.scrollTop = transcript.scrollHeight;
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      status.className = "msg-status msg-error";
      status.textContent = "No answer: " + err.message;
    }).then(function () { send.disabled = false; input.focus(); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question) return;
    input.value = "";
    ask(question);
  });
  [modelInput, versionInput].forEach(function (node) {
    node.addEventListener("change", function () {
      decisionInput.value = "";
      contextPill.textContent = modelInput.value && versionInput.value ? modelInput.value + " v" + versionInput.value : "no version chosen";
    });
  });
})();
