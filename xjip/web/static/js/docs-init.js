// Starts Swagger UI on /docs from the vendored bundle; validatorUrl null keeps it from calling validator.swagger.io.
(function () {
  "use strict";
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: function (req) {
        var meta = document.querySelector('meta[name="csrf-token"]');
        if (meta) { req.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
        return req;
      }
    });
  });
})();
