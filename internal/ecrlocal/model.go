// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package ecrlocal

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// The official ECR API model (the service-2.json AWS publishes for its SDKs).
// Request validation is driven by it rather than written by hand, so the
// endpoint rejects exactly what the model's constraints reject.
//
//go:embed model/ecr-2015-09-21.json
var modelJSON []byte

type apiModel struct {
	Metadata   struct{ TargetPrefix string } `json:"metadata"`
	Operations map[string]struct {
		Input  *shapeRef  `json:"input"`
		Errors []shapeRef `json:"errors"`
	} `json:"operations"`
	Shapes map[string]*shape `json:"shapes"`
}

type shapeRef struct {
	Shape string `json:"shape"`
}

type shape struct {
	Type     string              `json:"type"`
	Members  map[string]shapeRef `json:"members"`
	Required []string            `json:"required"`
	Member   *shapeRef           `json:"member"`
	Key      *shapeRef           `json:"key"`
	Value    *shapeRef           `json:"value"`
	Min      *float64            `json:"min"`
	Max      *float64            `json:"max"`
	Pattern  string              `json:"pattern"`
	Enum     []string            `json:"enum"`

	patternOnce sync.Once
	patternRE   *regexp.Regexp
}

var loadModel = sync.OnceValue(func() *apiModel {
	var m apiModel
	if err := json.Unmarshal(modelJSON, &m); err != nil {
		panic(fmt.Sprintf("embedded ECR model is not valid JSON: %v", err))
	}
	return &m
})

// fullMatch reports whether v matches the shape's pattern in full, as the
// service's validation does.
func (s *shape) fullMatch(v string) bool {
	s.patternOnce.Do(func() { s.patternRE = regexp.MustCompile(`^(?:` + s.Pattern + `)$`) })
	return s.patternRE.MatchString(v)
}

// OperationErrors lists the error codes the official model declares for an
// operation, so tests can cover every one of them.
func OperationErrors(operation string) []string {
	op, ok := loadModel().Operations[operation]
	if !ok {
		return nil
	}
	codes := make([]string, 0, len(op.Errors))
	for _, e := range op.Errors {
		codes = append(codes, e.Shape)
	}
	return codes
}

// validateInput checks a decoded request body against the operation's input
// shape. Type errors are SerializationException (the service cannot read the
// request); constraint violations are InvalidParameterException, ECR's
// declared error for them, worded as the service words them.
func validateInput(operation string, body map[string]any) *apiError {
	m := loadModel()
	op, ok := m.Operations[operation]
	if !ok || op.Input == nil {
		return nil
	}
	v := &validator{model: m}
	v.value(m.Shapes[op.Input.Shape], body, "")
	if v.serialization != "" {
		return newError("SerializationException", v.serialization)
	}
	if len(v.violations) == 0 {
		return nil
	}
	noun := "error"
	if len(v.violations) > 1 {
		noun = "errors"
	}
	return newError("InvalidParameterException", fmt.Sprintf("%d validation %s detected: %s",
		len(v.violations), noun, strings.Join(v.violations, "; ")))
}

type validator struct {
	model         *apiModel
	violations    []string
	serialization string
}

func (v *validator) violate(path string, value any, constraint string) {
	v.violations = append(v.violations, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: Member must %s",
		describeValue(value), path, constraint))
}

func (v *validator) wrongType(path, want string) {
	if v.serialization == "" {
		v.serialization = fmt.Sprintf("Unexpected value type at '%s': expected %s", strings.TrimPrefix(path, "."), want)
	}
}

func (v *validator) value(s *shape, val any, path string) {
	if val == nil || s == nil {
		return
	}
	switch s.Type {
	case "structure":
		v.structure(s, val, path)
	case "list":
		v.list(s, val, path)
	case "map":
		v.mapValue(s, val, path)
	case "string":
		v.stringValue(s, val, path)
	case "blob":
		v.blob(s, val, path)
	case "integer", "long":
		v.number(s, val, path, true)
	case "float", "double":
		v.number(s, val, path, false)
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.wrongType(path, "boolean")
		}
	case "timestamp":
		if _, ok := val.(json.Number); !ok {
			v.wrongType(path, "timestamp (epoch seconds)")
		}
	}
}

func (v *validator) structure(s *shape, val any, path string) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.wrongType(path, "object")
		return
	}
	for _, name := range s.Required {
		if _, present := obj[name]; !present {
			v.violate(join(path, name), nil, "not be null")
		}
	}
	names := make([]string, 0, len(s.Members))
	for name := range s.Members {
		names = append(names, name)
	}
	sort.Strings(names) // a stable message order, as the service gives
	for _, name := range names {
		if member, present := obj[name]; present {
			v.value(v.model.Shapes[s.Members[name].Shape], member, join(path, name))
		}
	}
}

func (v *validator) list(s *shape, val any, path string) {
	items, ok := val.([]any)
	if !ok {
		v.wrongType(path, "array")
		return
	}
	v.length(s, float64(len(items)), items, path)
	for i, item := range items {
		v.value(v.model.Shapes[s.Member.Shape], item, fmt.Sprintf("%s.%d", path, i+1))
	}
}

func (v *validator) mapValue(s *shape, val any, path string) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.wrongType(path, "object")
		return
	}
	v.length(s, float64(len(obj)), obj, path)
	for k, item := range obj {
		v.value(v.model.Shapes[s.Key.Shape], k, path)
		v.value(v.model.Shapes[s.Value.Shape], item, path+"."+k)
	}
}

func (v *validator) stringValue(s *shape, val any, path string) {
	str, ok := val.(string)
	if !ok {
		v.wrongType(path, "string")
		return
	}
	v.length(s, float64(utf8.RuneCountInString(str)), str, path)
	if s.Pattern != "" && !s.fullMatch(str) {
		v.violate(path, str, "satisfy regular expression pattern: "+s.Pattern)
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
		v.violate(path, str, "satisfy enum value set: ["+strings.Join(s.Enum, ", ")+"]")
	}
}

func (v *validator) blob(s *shape, val any, path string) {
	var n int
	var err error
	switch t := val.(type) {
	case string:
		n, err = decodedBlobLen(t)
	case blobText:
		n, err = decodedBlobLen(t)
	case decodedBlob:
		n = len(t)
	default:
		v.wrongType(path, "base64-encoded string")
		return
	}
	if err != nil {
		v.wrongType(path, "base64-encoded string")
		return
	}
	v.length(s, float64(n), fmt.Sprintf("<%d bytes>", n), path)
}

func (v *validator) number(s *shape, val any, path string, integral bool) {
	num, ok := val.(json.Number)
	if !ok {
		v.wrongType(path, "number")
		return
	}
	f, err := num.Float64()
	if err != nil || (integral && f != math.Trunc(f)) {
		v.wrongType(path, "integer")
		return
	}
	if s.Min != nil && f < *s.Min {
		v.violate(path, num, fmt.Sprintf("have value greater than or equal to %v", *s.Min))
	}
	if s.Max != nil && f > *s.Max {
		v.violate(path, num, fmt.Sprintf("have value less than or equal to %v", *s.Max))
	}
}

func (v *validator) length(s *shape, n float64, val any, path string) {
	if s.Min != nil && n < *s.Min {
		v.violate(path, val, fmt.Sprintf("have length greater than or equal to %v", *s.Min))
	}
	if s.Max != nil && n > *s.Max {
		v.violate(path, val, fmt.Sprintf("have length less than or equal to %v", *s.Max))
	}
}

// decodedBlobLen works out a base64 string's decoded length without decoding
// it: a part is up to 20 MiB, and the handler decodes it once, later.
func decodedBlobLen[T string | blobText](s T) (int, error) {
	if len(s)%4 != 0 {
		return 0, base64.CorruptInputError(len(s))
	}
	pad := 0
	for i := len(s) - 1; i >= 0 && s[i] == '='; i-- {
		pad++
	}
	return len(s)/4*3 - pad, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func describeValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return "'" + t + "'"
	default:
		return fmt.Sprintf("'%v'", t)
	}
}

// ShapeConstraint is what the model says of a string shape.
type ShapeConstraint struct {
	Pattern  string
	Min, Max int
}

// StringShape returns the model's constraints on a named string shape.
func StringShape(name string) (ShapeConstraint, bool) {
	s, ok := loadModel().Shapes[name]
	if !ok || s.Type != "string" {
		return ShapeConstraint{}, false
	}
	c := ShapeConstraint{Pattern: s.Pattern}
	if s.Min != nil {
		c.Min = int(*s.Min)
	}
	if s.Max != nil {
		c.Max = int(*s.Max)
	}
	return c, true
}

// CheckInput validates a decoded request body against the model, as the
// endpoint does, and returns the AWS error it would answer (nil when valid).
func CheckInput(operation string, input map[string]any) error {
	if apiErr := validateInput(operation, input); apiErr != nil {
		return apiErr
	}
	return nil
}
