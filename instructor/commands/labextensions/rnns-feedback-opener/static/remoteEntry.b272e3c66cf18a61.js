/* rnns-feedback-opener: the Assignments tab's "(view feedback)" opens the feedback page, and
 * Validate's dialog wraps its long lines.
 *
 * nbgrader's tab runs `filebrowser:go-to-path` with the submission's feedback; the course's student
 * exchange (instructor/pipeline/student_exchange.py) makes that path the page itself, and go-to-path only
 * selects a file in the file browser. Once it is done, this opens that page as a double click
 * would: `docmanager:open`, JupyterLab's HTML viewer (the page's maths is MathML, no script needed).
 *
 * Validate's dialog (nbgrader's) shows each failed test's message in a <pre>, which does not wrap:
 * the end of a long line, often the likely cause, sat beyond the dialog's right edge. The style
 * below (package.json's jupyterlab._build.style) wraps them, anywhere if a word is too long.
 *
 * A prebuilt JupyterLab extension written by hand, with nothing to build: JupyterLab loads this
 * file (package.json's jupyterlab._build.load) and takes the plugin from the container it
 * registers in window._JUPYTERLAB. It uses no JupyterLab package, only the app's command registry.
 * The file's name carries the first 16 hex digits of its SHA-256 (browsers may cache it).
 */
(function () {
  "use strict";

  // <assignment>/feedback/<timestamp>/<notebook>.html, relative to the student's home, as nbgrader
  // lays out fetched feedback.
  const FEEDBACK_PAGE = /(^|\/)feedback\/[^/]+\/[^/]+\.html$/;

  const plugin = {
    id: "rnns-feedback-opener:plugin",
    description: "Opens a fetched feedback page when the Assignments tab goes to it.",
    autoStart: true,
    activate(app) {
      app.commands.commandExecuted.connect((commands, { id, args, result }) => {
        const path = args && args.path;
        if (id !== "filebrowser:go-to-path" || typeof path !== "string" || !FEEDBACK_PAGE.test(path)) {
          return;
        }
        result
          .then(() => commands.execute("docmanager:open", { path }))
          .catch(reason => console.warn(`rnns-feedback-opener: cannot open ${path}`, reason));
      });
    },
  };

  const STYLE = `
#validation-message pre {
  white-space: pre-wrap;
  overflow-wrap: anywhere;
}`;

  function addStyle() {
    const style = document.createElement("style");
    style.textContent = STYLE;
    document.head.append(style);
    return {};
  }

  // The module-federation container JupyterLab asks for "./extension" and "./style" (package.json).
  // It shares no module with JupyterLab, so init has nothing to do.
  const MODULES = {
    "./extension": () => ({ __esModule: true, default: plugin }),
    "./style": addStyle,
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB["rnns-feedback-opener"] = {
    init() {},
    get(module) {
      if (!(module in MODULES)) {
        return Promise.reject(new Error(`rnns-feedback-opener has no module ${module}`));
      }
      return Promise.resolve(MODULES[module]);
    },
  };
})();
