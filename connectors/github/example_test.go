package github_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/foyerid/foyer/connectors"
	"github.com/foyerid/foyer/connectors/github"
)

// ExampleOpen opens a connector for members of one team and builds the
// URL that sends the browser to GitHub.
func ExampleOpen() {
	c, err := github.Open(github.Config{
		ClientID:     "Iv1.0123456789abcdef",
		ClientSecret: "from-the-app-settings",
		Orgs:         []github.Org{{Name: "acme", Teams: []string{"core-devs"}}},
	}, connectors.Env{ID: "github", CallbackURL: "https://id.example.com/callback/github"})
	if err != nil {
		fmt.Println(err)
		return
	}
	target, _, err := c.LoginURL(context.Background(), connectors.Scopes{Groups: true},
		"https://id.example.com/callback/github", "opaque-state")
	if err != nil {
		fmt.Println(err)
		return
	}
	u, _ := url.Parse(target)
	fmt.Println(u.Host + u.Path)
	fmt.Println(u.Query().Get("scope"))
	fmt.Println(u.Query().Get("redirect_uri"))
	// Output:
	// github.com/login/oauth/authorize
	// read:user user:email read:org
	// https://id.example.com/callback/github
}
