package change

import (
	"reflect"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		path string
		want Class
	}{
		// migrations
		{"migrations/0001_init.up.sql", Migration},
		{"db/migrations/0007_add_index.sql", Migration},
		{"db/migrate/20240101120000_create_users.rb", Migration},
		{"alembic/versions/4f2e_add_col.py", Migration},
		{"src/main/resources/db/migration/V1__init.sql", Migration},
		{"schema/V2__add_orders.sql", Migration},
		{"src/main/resources/db/changelog/db.changelog-master.yaml", Migration},
		{"liquibase/changelog-1.0.xml", Migration},
		{"prisma/migrations/20240101_init/migration.sql", Migration},
		{"db/schema.rb", Migration},
		// dependencies
		{"go.mod", Dependency},
		{"go.sum", Dependency},
		{"web/package.json", Dependency},
		{"web/package-lock.json", Dependency},
		{"yarn.lock", Dependency},
		{"pnpm-lock.yaml", Dependency},
		{"requirements.txt", Dependency},
		{"requirements-dev.txt", Dependency},
		{"Pipfile", Dependency},
		{"Pipfile.lock", Dependency},
		{"poetry.lock", Dependency},
		{"pyproject.toml", Dependency},
		{"pom.xml", Dependency},
		{"app/build.gradle", Dependency},
		{"build.gradle.kts", Dependency},
		{"Gemfile", Dependency},
		{"Gemfile.lock", Dependency},
		{"Cargo.toml", Dependency},
		{"Cargo.lock", Dependency},
		{"composer.json", Dependency},
		{"vendor/modules.txt", Dependency},
		{"src/App/App.csproj", Dependency},
		// infrastructure
		{"Dockerfile", Infrastructure},
		{"build/Dockerfile.prod", Infrastructure},
		{"docker-compose.yml", Infrastructure},
		{"docker-compose.override.yaml", Infrastructure},
		{"infra/main.tf", Infrastructure},
		{"envs/prod.tfvars", Infrastructure},
		{"k8s/deployment.yaml", Infrastructure},
		{"deploy/kubernetes/service.yml", Infrastructure},
		{"charts/app/Chart.yaml", Infrastructure},
		{"charts/app/values.yaml", Infrastructure},
		{"charts/app/templates/deployment.yaml", Infrastructure},
		{"helm/values-prod.yaml", Infrastructure},
		{"kustomize/overlays/prod/kustomization.yaml", Infrastructure},
		{".github/workflows/ci.yml", Infrastructure},
		{"Jenkinsfile", Infrastructure},
		{".gitlab-ci.yml", Infrastructure},
		// config
		{"hugai.yaml", Config},
		{"config/app.yaml", Config},
		{"settings.json", Config},
		{"app.toml", Config},
		{"setup.ini", Config},
		{".env", Config},
		{".env.production", Config},
		{"src/main/resources/application.properties", Config},
		{"config/nginx", Config},
		// tests
		{"internal/risk/risk_test.go", Test},
		{"test/integration/run.sh", Test},
		{"tests/test_api.py", Test},
		{"app/test_models.py", Test},
		{"src/__tests__/App.jsx", Test},
		{"src/app.spec.ts", Test},
		{"src/app.test.tsx", Test},
		{"spec/models/user_spec.rb", Test},
		{"src/test/java/com/x/UserServiceTest.java", Test},
		{"internal/plan/testdata/bad.yaml", Test},
		{"tests/fixtures/seed.sql", Test},
		// docs
		{"README.md", Docs},
		{"docs/risk.md", Docs},
		{"docs/diagram.png", Docs},
		{"docs/conf.py", Docs},
		{"guide.rst", Docs},
		{"LICENSE", Docs},
		{"CHANGELOG.md", Docs},
		{"NOTICE", Docs},
		// source
		{"cmd/hugai/main.go", Source},
		{"src/app.py", Source},
		{"src/index.ts", Source},
		{"src/main/java/com/x/Latest.java", Source},
		{"lib/audit.rb", Source},
		{"config/loader.go", Source},
		{"scripts/build.sh", Source},
		{"api/spec/openapi.yaml", Config},
		// other
		{"Makefile", Other},
		{"assets/logo.png", Other},
		{".gitignore", Other},
		// odd paths
		{"dir with space/naïve file.go", Source},
		{"./go.mod", Dependency},
	}
	for _, tt := range tests {
		if got := Classify(tt.path); got != tt.want {
			t.Errorf("Classify(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestSetHelpers(t *testing.T) {
	s := &Set{Files: []File{
		{Path: "b/x.go", Added: 10, Deleted: 2},
		{Path: "a/b/c.sql", Added: 5},
		{Path: "README.md", Deleted: 1},
		{Path: "b/y.go", Added: 1, Binary: true},
	}, Commits: []Commit{{Hash: "1"}, {Hash: "2"}}}
	s.Classify()
	if got, want := s.Dirs(), []string{".", "a/b", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Dirs() = %v, want %v", got, want)
	}
	if got, want := s.Subsystems(), []string{".", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Subsystems() = %v, want %v", got, want)
	}
	want := Totals{Commits: 2, Files: 4, Added: 16, Deleted: 3, Binary: 1}
	if got := s.Totals(); got != want {
		t.Errorf("Totals() = %+v, want %+v", got, want)
	}
	if got := s.Totals().Lines(); got != 19 {
		t.Errorf("Lines() = %d, want 19", got)
	}
	if s.Files[0].Path != "README.md" || s.Files[1].Class != Migration {
		t.Errorf("Classify did not sort and classify: %+v", s.Files)
	}
	if got := s.ClassCounts(); got[Source] != 2 || got[Migration] != 1 || got[Docs] != 1 {
		t.Errorf("ClassCounts() = %v", got)
	}
	if got := s.ByClass(Source); len(got) != 2 || got[0].Path != "b/x.go" {
		t.Errorf("ByClass(Source) = %v", got)
	}
	var nilSet *Set
	if nilSet.Totals() != (Totals{}) || nilSet.Dirs() != nil || len(nilSet.ClassCounts()) != 0 {
		t.Error("nil Set helpers should return zero values")
	}
}
