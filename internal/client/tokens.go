package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/hugai-dev/hugai/internal/api"
)

// CreateToken asks the server for a token; its secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, req api.CreateToken) (api.CreatedToken, error) {
	var out api.CreatedToken
	err := c.call(ctx, http.MethodPost, "/api/v1/tokens", nil, req, &out)
	return out, err
}

// Tokens lists the tokens the caller may manage.
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	out := []api.Token{}
	err := c.call(ctx, http.MethodGet, "/api/v1/tokens", nil, nil, &out)
	return out, err
}

// RevokeToken revokes the token called name.
func (c *Client) RevokeToken(ctx context.Context, name string) (api.Token, error) {
	var out api.Token
	err := c.call(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}
