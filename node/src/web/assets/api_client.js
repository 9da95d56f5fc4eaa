// ochat pages: the one client of the node's JSON API that the console and its admin sections
// share. window.ochatApi(token, path, method, body, background) answers a promise of the JSON answer (null
// for 204); an error answer rejects with the node's message, its HTTP status (e.status) and
// its code (e.code).
(function () {
  "use strict";
  window.ochatApi = function (token, path, method, body, background) {
    var headers = { authorization: "Bearer " + token };
    if (body !== undefined) headers["content-type"] = "application/json";
    // A request the page makes by itself (catching up after a reconnect) is not the
    // operator's activity: the node leaves their presence as it is.
    if (background) headers["x-ochat-background"] = "1";
    return fetch(path, {
      method: method || "GET", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (resp) {
      if (resp.status === 204) return null;
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (!resp.ok) {
          var err = json && json.error;
          var e = new Error((err && err.message) || ("The node answered HTTP " + resp.status));
          e.status = resp.status;
          e.code = err && err.code;
          throw e;
        }
        return json;
      });
    });
  };
})();
