package dockerlint

import (
	"slices"
	"testing"
)

func TestCommandsSplitShellText(t *testing.T) {
	t.Parallel()
	type cmd struct {
		prog string
		op   string
	}
	for _, tc := range []struct {
		in   string
		want []cmd
	}{
		{"apt-get update && apt-get install -y x", []cmd{{"apt-get", "&&"}, {"apt-get", ""}}},
		{"curl -fsSL https://x | bash -", []cmd{{"curl", "|"}, {"bash", ""}}},
		{"a || b; c\nd", []cmd{{"a", "||"}, {"b", ";"}, {"c", ";"}, {"d", ""}}},
		{`echo "a | b && c"; sudo -u app /usr/bin/make`, []cmd{{"echo", ";"}, {"make", ""}}},
		{"DEBIAN_FRONTEND=noninteractive apt-get install -y x", []cmd{{"apt-get", ""}}},
		{"env A=1 exec python3 -m pip install x", []cmd{{"python3", ""}}},
		{"apt-get install \\\n  curl", []cmd{{"apt-get", ""}}},
		{"(cd /src && make)", []cmd{{"cd", "&&"}, {"make", ""}}},
	} {
		var got []cmd
		for _, c := range commands(tc.in) {
			p, _ := c.program()
			got = append(got, cmd{p, c.op})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestWorldWritableAndPorts(t *testing.T) {
	t.Parallel()
	for mode, want := range map[string]bool{"777": true, "0777": true, "666": true, "a+rwx": true, "o+w": true, "go+w": true,
		"755": false, "1777": false, "u+x": false, "+x": false, "640": false, "-R": false} {
		if worldWritable(mode) != want {
			t.Errorf("chmod %s: world-writable %v, want %v", mode, !want, want)
		}
	}
	for port, bad := range map[string]bool{"80": false, "80/tcp": false, "53/UDP": false, "7000-7010": false, "$PORT": false,
		"0": true, "65536": true, "8080:80": true, "80/icmp": true, "9-1": true, "x": true, "-": true} {
		if (badPort(port) != "") != bad {
			t.Errorf("EXPOSE %s: bad %v, want %v (%s)", port, !bad, bad, badPort(port))
		}
	}
}

func TestSecretNames(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"API_TOKEN": true, "DB_PASSWORD": true, "aws_secret_access_key": true, "KEY": true, "MY_API_KEY": true, "PRIVATE_KEY": true,
		"GPG_KEY": false, "CACHE_KEY": false, "PRIVATE_KEY_PATH": false, "SECRET_FILE": false, "TOKEN_URL": false, "KEYRING": false, "MONKEY": false,
	} {
		if secretName(name) != want {
			t.Errorf("%s: secret %v, want %v", name, !want, want)
		}
	}
}
