package server

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI documents every route (TestOpenAPIMatchesRoutes keeps it honest).
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPI is the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPI)
}
