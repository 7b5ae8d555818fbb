// hugai's dashboard: a rollout's page follows it live (Server-Sent Events), and every action is a
// call of the API, with the page's CSRF token, under the same policy as any other client.
"use strict";

function csrf() {
  return document.body.dataset.csrf || "";
}

function flash(text, bad) {
  const f = document.getElementById("flash");
  if (!f) return;
  f.textContent = text;
  f.className = bad ? "bad" : "ok";
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    throw new Error((data && data.message) || (res.status + " " + res.statusText));
  }
  return data;
}

// The part of a rollout's page that changes is drawn again by the server at each revision.
async function redraw(id) {
  const res = await fetch("/rollouts/" + encodeURIComponent(id) + "?fragment=live", { credentials: "same-origin" });
  if (!res.ok) return;
  const box = document.getElementById("rollout");
  box.innerHTML = await res.text();
  wireCommands(id);
}

function wireCommands(id) {
  document.querySelectorAll("form.command").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const kind = form.dataset.kind;
      const comment = form.elements.comment ? form.elements.comment.value : "";
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const r = await api("POST", "/api/v1/rollouts/" + encodeURIComponent(id) + "/commands", { kind, comment });
        flash(kind + ": " + r.id + " is " + r.phase, false);
        await redraw(id);
      } catch (e) {
        flash(kind + " refused: " + e.message, true);
        button.disabled = false;
      }
    });
  });
}

function follow(id) {
  const es = new EventSource("/api/v1/rollouts/" + encodeURIComponent(id) + "/events");
  es.addEventListener("rollout", () => redraw(id));
  es.addEventListener("end", () => { es.close(); redraw(id); });
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("rollout");
  if (box) {
    const id = box.dataset.id;
    wireCommands(id);
    if (box.dataset.terminal !== "true") follow(id);
  }
  const verify = document.getElementById("verify");
  if (verify) {
    verify.addEventListener("click", async () => {
      const out = document.getElementById("verified");
      try {
        const v = await api("GET", "/api/v1/audit/verify");
        out.textContent = v.ok ? "intact: " + v.events + " events, head " + v.head.slice(0, 12) : "BROKEN at event " + v.badSeq + ": " + v.error;
        out.className = v.ok ? "ok" : "bad";
      } catch (e) {
        out.textContent = e.message;
        out.className = "bad";
      }
    });
  }
});
