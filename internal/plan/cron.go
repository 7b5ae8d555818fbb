package plan

import "github.com/hugai-dev/hugai/internal/policy"

func checkCron(expr string) error {
	_, err := policy.ParseCron(expr)
	return err
}
