package dockerlint

import (
	"net/url"
	"strings"
)

// SARIF 2.1.0 (OASIS), the subset code-scanning tools read: one run, the rules as
// tool.driver.rules, each finding as a result pointing at its file and line.

// SARIFSchema is the schema URI the log names.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// SARIFLog is the top-level SARIF object.
type SARIFLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []SARIFRun `json:"runs"`
}

// SARIFRun is one run of one tool.
type SARIFRun struct {
	Tool    SARIFTool     `json:"tool"`
	Results []SARIFResult `json:"results"`
	// Language and NewlineSequences are the schema's defaults, written out because some readers
	// (go-sarif among them) otherwise fill in values the schema refuses.
	Language         string   `json:"language"`
	NewlineSequences []string `json:"newlineSequences"`
}

// SARIFTool names the tool and its rules.
type SARIFTool struct {
	Driver SARIFDriver `json:"driver"`
}

// SARIFDriver is the tool component.
type SARIFDriver struct {
	Name           string      `json:"name"`
	Language       string      `json:"language"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []SARIFRule `json:"rules"`
}

// SARIFRule is a reportingDescriptor.
type SARIFRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name,omitempty"`
	ShortDescription     SARIFMessage    `json:"shortDescription"`
	FullDescription      SARIFMessage    `json:"fullDescription"`
	Help                 SARIFMessage    `json:"help"`
	DefaultConfiguration SARIFRuleConfig `json:"defaultConfiguration"`
	Properties           map[string]any  `json:"properties,omitempty"`
}

// SARIFRuleConfig carries a rule's default level.
type SARIFRuleConfig struct {
	Level string `json:"level"`
}

// SARIFMessage is a message with text (and markdown for help).
type SARIFMessage struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

// SARIFResult is one finding.
type SARIFResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   SARIFMessage    `json:"message"`
	Locations []SARIFLocation `json:"locations"`
}

// SARIFLocation points at a file and a line.
type SARIFLocation struct {
	PhysicalLocation SARIFPhysical `json:"physicalLocation"`
}

// SARIFPhysical is a physicalLocation.
type SARIFPhysical struct {
	ArtifactLocation SARIFArtifact `json:"artifactLocation"`
	Region           SARIFRegion   `json:"region"`
}

// SARIFArtifact names the file, relative to the working directory when it can be.
type SARIFArtifact struct {
	URI string `json:"uri"`
}

// SARIFRegion is the line range; SARIF lines are 1-based, as ours are.
type SARIFRegion struct {
	StartLine int `json:"startLine"`
}

// sarifLevel maps a severity onto SARIF's levels, which have no "style": it becomes "note".
func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "note"
	}
}

// SARIF builds the log for r; version is hugai's.
func SARIF(r Report, version string) SARIFLog {
	rules := Rules()
	index := map[string]int{}
	driver := SARIFDriver{Name: "hugai", Language: "en-US", Version: version, InformationURI: "https://github.com/hugai-dev/hugai/blob/main/docs/docker.md"}
	for i, rule := range rules {
		index[rule.ID] = i
		driver.Rules = append(driver.Rules, SARIFRule{
			ID:                   rule.ID,
			Name:                 rule.Title,
			ShortDescription:     SARIFMessage{Text: rule.Title},
			FullDescription:      SARIFMessage{Text: rule.Description},
			Help:                 SARIFMessage{Text: "Fix: " + rule.Fix, Markdown: "**Fix:** " + rule.Fix},
			DefaultConfiguration: SARIFRuleConfig{Level: sarifLevel(rule.Severity)},
			Properties:           map[string]any{"group": string(rule.Group), "severity": rule.Severity.String()},
		})
	}
	results := []SARIFResult{}
	for _, f := range r.Findings {
		line := max(f.Line, 1)
		results = append(results, SARIFResult{
			RuleID:    f.RuleID,
			RuleIndex: index[f.RuleID],
			Level:     sarifLevel(f.Severity),
			Message:   SARIFMessage{Text: f.Message + ". Fix: " + f.Fix},
			Locations: []SARIFLocation{{PhysicalLocation: SARIFPhysical{
				ArtifactLocation: SARIFArtifact{URI: artifactURI(f.File)},
				Region:           SARIFRegion{StartLine: line},
			}}},
		})
	}
	return SARIFLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []SARIFRun{{
		Tool: SARIFTool{Driver: driver}, Results: results, Language: "en-US", NewlineSequences: []string{"\r\n", "\n"},
	}}}
}

// artifactURI makes a file name a URI: relative names stay relative (scanners resolve them against
// the checkout), absolute ones become file:// URIs.
func artifactURI(name string) string {
	u := &url.URL{Path: name}
	if strings.HasPrefix(name, "/") {
		u.Scheme = "file"
	}
	return u.String()
}
