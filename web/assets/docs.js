// The API documentation page: adds a "Try" button to each GET operation without path
// parameters, which fetches it and shows the JSON answer. Text only goes through
// textContent, never innerHTML.
"use strict";

(function () {
  for (const item of document.querySelectorAll("li.op")) {
    const method = item.dataset.method;
    const path = item.dataset.path;
    if (method !== "GET" || path.includes("{") || path === "/api/events" || path === "/api/ws") {
      continue;
    }
    const form = document.createElement("p");
    const query = document.createElement("input");
    query.placeholder = "query, e.g. limit=5";
    query.size = 40;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Try";
    const output = document.createElement("pre");
    output.hidden = true;
    button.addEventListener("click", async () => {
      const url = path + (query.value ? "?" + query.value.replace(/^\?/, "") : "");
      output.hidden = false;
      output.textContent = "GET " + url + " ...";
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        const type = response.headers.get("content-type") || "";
        const body = type.includes("json")
          ? JSON.stringify(await response.json(), null, 2)
          : await response.text();
        output.textContent = response.status + " " + response.statusText + "\n" + body;
      } catch (error) {
        output.textContent = "request failed: " + error;
      }
    });
    form.append(query, " ", button);
    item.append(form, output);
  }
})();
