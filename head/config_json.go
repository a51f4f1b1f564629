package head

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// DecodeConfig decodes a JSON object of training options onto base
// (normally Default()) and validates the result. A key that is absent
// keeps base's value and a key that is present sets it, zero included:
// "patience": 0 turns early stopping off, "weight_decay": 0 turns decay
// off, "seed": 0 is seed 0. A key the configuration does not have is an
// error naming it and every valid key, so a typo ("epoch") never trains
// with defaults silently.
//
// A few values have a shorter form beside their JSON type: "hidden": 256
// or "512,128" for [512, 128]; "label_names": "0=negative,1=positive";
// "lora_targets": "query,value". The removed "adapter" option is an
// error that says why and what to use instead (ErrAdapterRemoved).
func DecodeConfig(data []byte, base TrainConfig) (TrainConfig, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return base, fmt.Errorf("training options must be a JSON object of option: value pairs (valid options: %s)", strings.Join(ConfigKeys(), ", "))
	}
	return DecodeConfigFields(raw, base)
}

// DecodeConfigFields is DecodeConfig for an object already split into its
// keys, as a request body that carries other fields beside the options.
func DecodeConfigFields(raw map[string]json.RawMessage, base TrainConfig) (TrainConfig, error) {
	cfg := cloneConfig(base)
	if err := decodeStruct(reflect.ValueOf(&cfg).Elem(), raw, ""); err != nil {
		return base, err
	}
	if err := cfg.Validate(); err != nil {
		return base, err
	}
	return cfg, nil
}

// ConfigFromValues applies string values, as a query string or the
// fields of a form carry them, onto base: each value is read as the type
// of the option it names (a number, true/false, a string, a list as
// "a,b"), then decoded by DecodeConfig's rules. Nested options, should
// the configuration have any, are named with a dot ("option.field=4").
func ConfigFromValues(values map[string]string, base TrainConfig) (TrainConfig, error) {
	obj := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t := reflect.TypeOf(base)
	for _, k := range keys {
		path := strings.Split(k, ".")
		ft, ok := fieldType(t, path)
		if !ok {
			return base, unknownKey(k, t, path)
		}
		v, err := valueFromString(strings.TrimSpace(values[k]), ft)
		if err != nil {
			return base, fmt.Errorf("training option %s=%q: %v", clipKey(k), clipKey(values[k]), err)
		}
		m := obj
		for i, p := range path[:len(path)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				if short, isStr := m[p].(string); isStr { // "opt=short&opt.field=4"
					pt, _ := fieldType(t, path[:i+1])
					b, _ := json.Marshal(short)
					_ = json.Unmarshal(lenient(b, pt), &sub)
				}
				m[p] = sub
			}
			m = sub
		}
		m[path[len(path)-1]] = v
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return base, err
	}
	return DecodeConfig(data, base)
}

// ConfigKeys lists the options DecodeConfig accepts, sorted.
func ConfigKeys() []string { return structKeys(reflect.TypeOf(TrainConfig{})) }

func structKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if name := jsonName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	slices.Sort(keys)
	return keys
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = f.Name
	}
	return name
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); jsonName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldType(t reflect.Type, path []string) (reflect.Type, bool) {
	for _, p := range path {
		if t.Kind() != reflect.Struct {
			return nil, false
		}
		f, ok := fieldByKey(t, p)
		if !ok {
			return nil, false
		}
		t = f.Type
	}
	return t, true
}

// ErrAdapterRemoved is the error for the removed embedding-level
// adapter option ("adapter", CLI --adapter/--rank/--alpha).
var ErrAdapterRemoved = errors.New(`the embedding-level "adapter" was removed: h + (α/r)·B·A·h feeds the head's first layer, which is linear, so it only reparametrises that layer and cannot add capacity; train LoRA inside the encoder instead with "tune": "lora" (CLI: --tune lora --layers N; its rank and alpha are lora_rank and lora_alpha)`)

func unknownKey(key string, t reflect.Type, path []string) error {
	if len(path) > 0 && path[0] == "adapter" {
		return ErrAdapterRemoved
	}
	where, valid := "", structKeys(t)
	for i, p := range path[:len(path)-1] {
		f, ok := fieldByKey(t, p)
		if !ok || f.Type.Kind() != reflect.Struct {
			break
		}
		t = f.Type
		where, valid = " in "+strconv.Quote(strings.Join(path[:i+1], ".")), structKeys(t)
	}
	return fmt.Errorf("unknown training option %q%s; valid options: %s", clipKey(key), where, strings.Join(valid, ", "))
}

// decodeStruct sets the fields of v named by raw's keys, each decoded as
// its own type; nested objects recurse, so their unknown keys
// are caught too.
func decodeStruct(v reflect.Value, raw map[string]json.RawMessage, prefix string) error {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := fieldByKey(v.Type(), k)
		if !ok {
			return unknownKey(prefix+k, reflect.TypeOf(TrainConfig{}), strings.Split(prefix+k, "."))
		}
		fv := v.FieldByIndex(f.Index)
		val := lenient(bytes.TrimSpace(raw[k]), f.Type)
		if f.Type.Kind() == reflect.Struct && len(val) > 0 && val[0] == '{' {
			var sub map[string]json.RawMessage
			if err := json.Unmarshal(val, &sub); err != nil {
				return fmt.Errorf("training option %q: %v", prefix+k, err)
			}
			if err := decodeStruct(fv, sub, prefix+k+"."); err != nil {
				return err
			}
			continue
		}
		nv := reflect.New(f.Type)
		if err := json.Unmarshal(val, nv.Interface()); err != nil {
			return fmt.Errorf("training option %q must be %s, got %s", prefix+k, kindWords(f.Type), jsonKindOf(val))
		}
		if string(val) == "null" && f.Type.Kind() != reflect.Slice && f.Type.Kind() != reflect.Map {
			return fmt.Errorf("training option %q must be %s, got null (leave the option out for its default)", prefix+k, kindWords(f.Type))
		}
		fv.Set(nv.Elem())
	}
	return nil
}

// lenient rewrites the short forms DecodeConfig accepts into JSON of the
// field's type.
func lenient(val []byte, t reflect.Type) []byte {
	if len(val) == 0 || string(val) == "null" {
		return val
	}
	var s string
	isString := val[0] == '"' && json.Unmarshal(val, &s) == nil
	switch {
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int && val[0] != '[':
		if isString {
			val = []byte("[" + s + "]")
		} else {
			val = append(append([]byte("["), val...), ']')
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String && isString:
		parts := strings.Split(s, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		val, _ = json.Marshal(parts)
	case t.Kind() == reflect.Map && isString:
		if m, err := ParseLabelNames(s); err == nil {
			val, _ = json.Marshal(m)
		}
	}
	return val
}

// valueFromString reads a query or form value as the JSON value of type t.
func valueFromString(s string, t reflect.Type) (any, error) {
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Struct:
		return s, nil // lenient turns "a,b" and "lora" into their types
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false")
		}
		return b, nil
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Uint, reflect.Int32:
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			if _, err := strconv.ParseUint(s, 10, 64); err != nil {
				return nil, fmt.Errorf("want a whole number")
			}
		}
		return json.Number(s), nil
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("want a number")
		}
		return f, nil
	}
	return s, nil
}

func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Uint, reflect.Int32:
		if t.Kind() == reflect.Uint64 || t.Kind() == reflect.Uint {
			return "a whole number >= 0"
		}
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(kindWords(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "an object of raw label: name pairs, or \"raw=name,raw=name\""
	case reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

func jsonKindOf(val []byte) string {
	if len(val) == 0 {
		return "nothing"
	}
	switch val[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return clipKey(string(val))
}

// clipKey bounds a client's key or value repeated in an error.
func clipKey(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}

// cloneConfig copies c so decoding onto it never writes into the slices
// and maps of the caller's value.
func cloneConfig(c TrainConfig) TrainConfig {
	c.Hidden = slices.Clone(c.Hidden)
	c.LoRATargets = slices.Clone(c.LoRATargets)
	if c.LabelNames != nil {
		m := make(map[string]string, len(c.LabelNames))
		for k, v := range c.LabelNames {
			m[k] = v
		}
		c.LabelNames = m
	}
	return c
}
