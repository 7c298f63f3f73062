/* The ipywidgets 8 html-manager, which renders the notebooks' saved widget state, typesets each
   widget label with MathJax 2's API, MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]).
   This site runs MathJax 3, which has no Hub, so every slider label threw a TypeError. Map that
   one call onto MathJax 3. Loaded deferred right after MathJax, so window.MathJax is MathJax 3. */
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup) return;   // no MathJax on this page, or a real MathJax 2
  mj.Hub = {
    Queue: function (job) {
      mj.startup.promise.then(function () { return mj.typesetPromise([job[2]]); });
    }
  };
})();
