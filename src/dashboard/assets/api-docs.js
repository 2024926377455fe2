// Swagger UI over the gateway's own OpenAPI document; no validator (it would call another host).
window.addEventListener("load", () => {
  window.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger", validatorUrl: null, deepLinking: true });
});
