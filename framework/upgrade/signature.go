package upgrade

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Signature is what makes a run's verdict the expected one, beyond the
// verdict's name: an expected upgrade-failed must fail at the expected step
// with the expected line from the cluster, an expected inconsistent must be
// found by the expected check in the expected shape. Any other failure of a
// path expected to fail is a different failure, and the spec says so.
// Patterns are Go regular expressions.
type Signature struct {
	// Step matches the name of the failed step (upgrade-failed), e.g.
	// `^hop 1 \(3\.5\.17 → 3\.6\.5, replace\): join a new member`.
	Step string `json:"step,omitempty"`
	// Check is the check that finds the inconsistency (inconsistent):
	// membership, keys or audit.
	Check string `json:"check,omitempty"`
	// Stage, when set, matches the stage of the finding (inconsistent),
	// e.g. `^after hop 2` for what is still wrong after a rollback, where
	// the hop before it found something too.
	Stage string `json:"stage,omitempty"`
	// Source, when set, matches where the line comes from: `log$` for a
	// member's own log, `^etcd API` for the answer to a request, `^kubeadm`
	// for kubeadm relaying one.
	Source string `json:"source,omitempty"`
	// Line matches one of the cluster's own lines about the failure
	// (upgrade-failed), or one finding of Check (inconsistent).
	Line string `json:"line"`
	// Note says in words what the signature stands for.
	Note string `json:"note,omitempty"`
}

func (s Signature) String() string {
	var parts []string
	if s.Step != "" {
		parts = append(parts, "step ~ "+s.Step)
	}
	if s.Check != "" {
		parts = append(parts, s.Check+" check")
	}
	if s.Stage != "" {
		parts = append(parts, "stage ~ "+s.Stage)
	}
	if s.Source != "" {
		parts = append(parts, "source ~ "+s.Source)
	}
	parts = append(parts, "line ~ "+s.Line)
	out := strings.Join(parts, ", ")
	if s.Note != "" {
		out += " (" + s.Note + ")"
	}
	return out
}

// validate checks that s can identify a run of verdict v.
func (s Signature) validate(v Verdict) error {
	var errs []error
	for _, p := range []struct{ name, re string }{{"step", s.Step}, {"source", s.Source}, {"stage", s.Stage}, {"line", s.Line}} {
		if _, err := regexp.Compile(p.re); err != nil {
			errs = append(errs, fmt.Errorf("%s pattern: %w", p.name, err))
		}
	}
	if s.Line == "" {
		errs = append(errs, errors.New("no line pattern"))
	}
	switch v {
	case UpgradeFailed:
		if s.Step == "" {
			errs = append(errs, errors.New("an upgrade-failed signature names the failing step"))
		}
		if s.Check != "" || s.Stage != "" {
			errs = append(errs, errors.New("an upgrade-failed signature names no check or stage"))
		}
	case Inconsistent:
		if !slices.Contains(Checks, s.Check) {
			errs = append(errs, fmt.Errorf("check %q: want one of %s", s.Check, strings.Join(Checks, ", ")))
		}
		if s.Step != "" || s.Source != "" {
			errs = append(errs, errors.New("an inconsistent signature names a check, not a step or source"))
		}
	default:
		errs = append(errs, fmt.Errorf("a %s verdict carries no signature", v))
	}
	return errors.Join(errs...)
}

// matches says whether run r shows s. s must be valid.
func (s Signature) matches(r Result) bool {
	switch r.Verdict {
	case UpgradeFailed:
		f := r.Failure
		if f == nil || !regexp.MustCompile(s.Step).MatchString(f.Step) {
			return false
		}
		src, line := regexp.MustCompile(s.Source), regexp.MustCompile(s.Line)
		for _, l := range f.Lines {
			if src.MatchString(l.Source) && line.MatchString(l.Text) {
				return true
			}
		}
	case Inconsistent:
		line, stage := regexp.MustCompile(s.Line), regexp.MustCompile(s.Stage)
		for _, fd := range r.Findings {
			if fd.Check == s.Check && stage.MatchString(fd.Stage) && line.MatchString(fd.Text) {
				return true
			}
		}
	}
	return false
}

// Expected is the verdict a path is expected to give and what makes it
// that verdict.
type Expected struct {
	Verdict Verdict `json:"verdict"`
	// Signatures: a run gives the expected verdict only when it shows one
	// of them. A path that fails in more than one measured way lists each.
	// Every verdict but consistent needs at least one.
	Signatures []Signature `json:"signatures,omitempty"`
}

// Validate rejects an expectation no run could be matched against.
func (e Expected) Validate() error {
	if !slices.Contains(Verdicts, e.Verdict) {
		return fmt.Errorf("verdict %q cannot be expected: want one of %s", e.Verdict, verdictNames())
	}
	if e.Verdict == Consistent {
		if len(e.Signatures) > 0 {
			return errors.New("a consistent verdict carries no signature")
		}
		return nil
	}
	if len(e.Signatures) == 0 {
		return fmt.Errorf("an expected %s names what makes it so: the failing step and the member's own line, or the check and what it finds", e.Verdict)
	}
	var errs []error
	for i, s := range e.Signatures {
		if err := s.validate(e.Verdict); err != nil {
			errs = append(errs, fmt.Errorf("signature %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

// Match returns nil when r is the expected outcome, else an error that sets
// the expected and the measured signature side by side. A harness error
// never matches.
func (e Expected) Match(r Result) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("invalid expectation: %w", err)
	}
	ok := r.Verdict == e.Verdict
	if ok && e.Verdict != Consistent {
		_, ok = e.Matching(r)
	}
	if ok {
		return nil
	}
	var why string
	switch {
	case r.Verdict == HarnessError:
		why = "the harness failed, so the run measured nothing about the upgrade"
	case r.Verdict != e.Verdict:
		why = "another verdict"
	default:
		why = "the expected verdict, but for another reason: no expected signature matches"
	}
	return fmt.Errorf("%s\nexpected: %s\nmeasured: %s", why, e, r.Signature())
}

func (e Expected) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict %s", e.Verdict)
	for _, s := range e.Signatures {
		fmt.Fprintf(&b, "\n  one of: %s", s)
	}
	return b.String()
}

// Matching returns the first of e's signatures r shows, for reports.
func (e Expected) Matching(r Result) (Signature, bool) {
	for _, s := range e.Signatures {
		if r.Verdict == e.Verdict && s.matches(r) {
			return s, true
		}
	}
	return Signature{}, false
}

// ParseVerdict accepts a verdict that can be expected.
func ParseVerdict(s string) (Verdict, error) {
	for _, v := range Verdicts {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown verdict %q: want one of %s", s, verdictNames())
}

func verdictNames() string {
	var names []string
	for _, v := range Verdicts {
		names = append(names, string(v))
	}
	return strings.Join(names, ", ")
}
