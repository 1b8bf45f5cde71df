// One script tag on a host's own site:
//   <script src="https://<fairlot server>/static/widget.js" data-certificate="<hash>" async></script>
// inserts an iframe of /embed/<hash> right where the tag is. The iframe verifies the
// certificate in the visitor's browser; nothing of the host's page is read.
(function () {
  var script = document.currentScript;
  if (!script) return;
  var hash = script.getAttribute("data-certificate") || "";
  if (!/^[0-9a-f]{64}$/.test(hash)) return;
  var origin = new URL(script.src).origin;
  var frame = document.createElement("iframe");
  frame.src = origin + "/embed/" + hash;
  frame.title = "fairlot draw certificate status";
  frame.loading = "lazy";
  frame.style.cssText = "border:0;width:100%;max-width:420px;height:92px;display:block";
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
