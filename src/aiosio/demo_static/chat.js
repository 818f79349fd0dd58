// The aiosio chat demo: plain browser JavaScript on the official socket.io-client.
"use strict";

(function () {
  const $ = (selector) => document.querySelector(selector);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  const state = {
    me: null, // {id, name}
    rooms: [], // [{name, members}] from the server
    users: [], // [{id, name}] from the server
    joined: new Set(), // rooms this tab is in (joined again after a reconnection)
    conversations: new Map(), // "room:general" | "dm:<socket id>" -> {title, messages, unread}
    current: null,
    typing: new Map(), // room -> Map(user id -> {name, timer})
  };

  function conversation(key, title) {
    let found = state.conversations.get(key);
    if (!found) {
      found = { title, messages: [], unread: 0 };
      state.conversations.set(key, found);
    }
    return found;
  }

  // -- the connection ---------------------------------------------------------------------

  let socket = null;

  function start(name) {
    localStorage.setItem("aiosio-chat-name", name);
    socket = io({ auth: { name } });
    window.chat = { socket, state }; // for the end-to-end tests and the curious

    socket.on("connect", () => {
      setStatus(true);
      const rooms = state.joined.size ? [...state.joined] : ["general"];
      state.joined.clear();
      rooms.forEach((room, index) => join(room, index === 0 && !state.current));
    });
    socket.on("disconnect", () => setStatus(false));
    socket.on("connect_error", (error) => setStatus(false, error.message));

    socket.on("welcome", (me) => {
      state.me = me;
      $("#me").textContent = me.name;
      renderUsers();
    });
    socket.on("rooms", (rooms) => {
      state.rooms = rooms;
      renderRooms();
    });
    socket.on("users", (users) => {
      state.users = users;
      renderUsers();
      renderTitle();
    });
    socket.on("message", (message) => {
      stopTyping(message.room, message.from.id);
      receive("room:" + message.room, "#" + message.room, { ...message, mine: false });
    });
    socket.on("private", (message) => {
      receive("dm:" + message.from.id, message.from.name, { ...message, mine: false });
    });
    socket.on("notice", (notice) => {
      receive("room:" + notice.room, "#" + notice.room, { notice: notice.text }, false);
    });
    socket.on("typing", onTyping);
  }

  function setStatus(online, detail) {
    const status = $("#status");
    status.textContent = online ? "connected" : detail ? "offline: " + detail : "offline";
    status.className = "status " + (online ? "online" : "offline");
    renderComposer();
  }

  // -- rooms ------------------------------------------------------------------------------

  function join(room, open = true) {
    socket.emit("join", room, (answer) => {
      if (!answer.ok) return alert(answer.error);
      state.joined.add(answer.room);
      conversation("room:" + answer.room, "#" + answer.room);
      if (open) show("room:" + answer.room);
      renderRooms();
    });
  }

  function leave(room) {
    socket.emit("leave", room, (answer) => {
      if (!answer.ok) return;
      state.joined.delete(room);
      state.typing.delete(room);
      if (state.current === "room:" + room) show(null);
      renderRooms();
    });
  }

  // -- messages ---------------------------------------------------------------------------

  function receive(key, title, message, counts = true) {
    const target = conversation(key, title);
    target.messages.push(message);
    if (state.current === key) {
      renderMessages();
    } else if (counts) {
      target.unread += 1;
      renderRooms();
      renderUsers();
    }
  }

  function send(text) {
    const key = state.current;
    if (!key || !text.trim()) return;
    const message = { mine: true, text, time: Date.now(), status: "sending…", from: state.me };
    conversation(key).messages.push(message);
    renderMessages();
    const settle = (error, answer) => {
      if (error) message.status = "not delivered (timeout)";
      else if (!answer.ok) message.status = "not delivered: " + answer.error;
      else {
        message.status = "delivered";
        message.recipients = answer.recipients;
        message.time = answer.time;
      }
      message.failed = message.status !== "delivered";
      if (state.current === key) renderMessages();
    };
    if (key.startsWith("room:")) {
      const room = key.slice(5);
      setTyping(false);
      socket.timeout(5000).emit("message", { room, text }, settle);
    } else {
      socket.timeout(5000).emit("private", { to: key.slice(3), text }, settle);
    }
  }

  // -- typing -----------------------------------------------------------------------------

  let typingTimer = null;
  let typingRoom = null;

  function setTyping(typing) {
    const room = state.current && state.current.startsWith("room:") ? state.current.slice(5) : null;
    clearTimeout(typingTimer);
    if (typing && room) {
      if (typingRoom !== room) socket.emit("typing", { room, typing: true });
      typingRoom = room;
      typingTimer = setTimeout(() => setTyping(false), 2000);
    } else if (typingRoom) {
      socket.emit("typing", { room: typingRoom, typing: false });
      typingRoom = null;
    }
  }

  function onTyping({ room, user, typing }) {
    if (!typing) return stopTyping(room, user.id);
    const people = state.typing.get(room) || new Map();
    state.typing.set(room, people);
    const previous = people.get(user.id);
    if (previous) clearTimeout(previous.timer);
    // A lost "stopped typing" must not leave the indicator on for ever.
    people.set(user.id, { name: user.name, timer: setTimeout(() => stopTyping(room, user.id), 5000) });
    renderTyping();
  }

  function stopTyping(room, id) {
    const people = state.typing.get(room);
    if (people && people.has(id)) {
      clearTimeout(people.get(id).timer);
      people.delete(id);
      renderTyping();
    }
  }

  // -- rendering --------------------------------------------------------------------------

  function show(key) {
    state.current = key;
    if (key) conversation(key).unread = 0;
    renderTitle();
    renderMessages();
    renderTyping();
    renderRooms();
    renderUsers();
    renderComposer();
    if (key) $("#text").focus();
  }

  function renderTitle() {
    const key = state.current;
    let title = "Pick a room";
    if (key && key.startsWith("room:")) title = "#" + key.slice(5);
    else if (key) {
      const user = state.users.find((u) => u.id === key.slice(3));
      title = user ? "Private: " + user.name : conversation(key).title + " (offline)";
    }
    $("#title").textContent = title;
    $("#leave").hidden = !(key && key.startsWith("room:"));
  }

  function renderComposer() {
    const ready = Boolean(socket && socket.connected && state.current);
    $("#text").disabled = !ready;
    $("#send").disabled = !ready;
    $("#text").placeholder = ready ? "Write a message" : "Join a room to talk";
  }

  function renderRooms() {
    const list = $("#rooms");
    list.replaceChildren();
    const names = new Set(state.rooms.map((room) => room.name));
    const rooms = [...state.rooms];
    state.joined.forEach((name) => names.has(name) || rooms.push({ name, members: 1 }));
    for (const room of rooms) {
      const key = "room:" + room.name;
      const joined = state.joined.has(room.name);
      const item = el("li", joined ? "joined" : "");
      item.dataset.room = room.name;
      if (state.current === key) item.classList.add("active");
      item.append(el("span", "name", "#" + room.name), el("span", "members", String(room.members)));
      const unread = state.conversations.get(key)?.unread;
      if (unread) item.append(el("span", "badge", String(unread)));
      const button = el("button", "small " + (joined ? "secondary leave" : "join"), joined ? "Leave" : "Join");
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        joined ? leave(room.name) : join(room.name);
      });
      item.append(button);
      item.addEventListener("click", () => (joined ? show(key) : join(room.name)));
      list.append(item);
    }
  }

  function renderUsers() {
    const list = $("#users");
    list.replaceChildren();
    $("#online-count").textContent = String(state.users.length);
    for (const user of state.users) {
      const mine = state.me && user.id === state.me.id;
      const key = "dm:" + user.id;
      const item = el("li", mine ? "me" : "");
      item.dataset.id = user.id;
      if (state.current === key) item.classList.add("active");
      item.append(el("span", "dot"), el("span", "name", user.name + (mine ? " (you)" : "")));
      const unread = state.conversations.get(key)?.unread;
      if (unread) item.append(el("span", "badge", String(unread)));
      if (!mine) {
        item.title = "Send a private message";
        item.addEventListener("click", () => {
          conversation(key, user.name);
          show(key);
        });
      }
      list.append(item);
    }
  }

  function renderMessages() {
    const list = $("#messages");
    list.replaceChildren();
    const found = state.current && state.conversations.get(state.current);
    for (const message of found ? found.messages : []) {
      if (message.notice) {
        list.append(el("li", "notice", message.notice));
        continue;
      }
      const item = el("li", "message" + (message.mine ? " mine" : ""));
      const bubble = el("div", "bubble");
      bubble.append(el("span", "text", message.text));
      const meta = el("div", "meta");
      meta.append(el("span", "from", message.mine ? "you" : message.from.name), " · " + clock(message.time));
      if (message.mine) {
        const status = el("span", "status", message.status);
        status.classList.add(message.status === "delivered" ? "delivered" : message.failed ? "failed" : "sending");
        if (message.recipients !== undefined) status.title = `to ${message.recipients} in the room`;
        meta.append(" · ", status);
      }
      item.append(bubble, meta);
      list.append(item);
    }
    list.scrollTop = list.scrollHeight;
  }

  function renderTyping() {
    const room = state.current && state.current.startsWith("room:") ? state.current.slice(5) : null;
    const people = room && state.typing.get(room);
    const names = people ? [...people.values()].map((p) => p.name) : [];
    $("#typing").textContent =
      names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  }

  // -- the page ---------------------------------------------------------------------------

  $("#room-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("#new-room").value.trim();
    if (room) join(room);
    $("#new-room").value = "";
  });
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send($("#text").value);
    $("#text").value = "";
  });
  $("#text").addEventListener("input", () => setTyping($("#text").value.length > 0));
  $("#leave").addEventListener("click", () => state.current && leave(state.current.slice(5)));

  const wanted = new URLSearchParams(location.search).get("name");
  if (wanted) {
    start(wanted);
  } else {
    const dialog = $("#name-dialog");
    $("#name").value = localStorage.getItem("aiosio-chat-name") || "guest-" + Math.floor(Math.random() * 1000);
    dialog.addEventListener("close", () => start($("#name").value.trim() || "guest"));
    dialog.showModal();
  }
  renderRooms();
  renderComposer();
})();
