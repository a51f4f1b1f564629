package stream

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Encoding is how a JSON Lines output holds an embedding.
type Encoding int

const (
	// EncodingJSON writes a JSON array of numbers, each the shortest
	// decimal that reads back as the same float32 (as encoding/json does).
	EncodingJSON Encoding = iota
	// EncodingBase64 writes a base64 string of the little-endian float32
	// bytes: exact, about 3× smaller and faster to parse.
	EncodingBase64
)

// ParseEncoding parses "json" or "base64".
func ParseEncoding(s string) (Encoding, error) {
	switch s {
	case "", "json":
		return EncodingJSON, nil
	case "base64":
		return EncodingBase64, nil
	}
	return 0, fmt.Errorf("--encoding %q: want json or base64", s)
}

func (e Encoding) String() string {
	if e == EncodingBase64 {
		return "base64"
	}
	return "json"
}

// appendRow appends one JSON Lines record: {"id": ID, "embedding": ...}
// when the input record had an id, else {"index": I, "embedding": ...}.
func appendRow(b []byte, index int, id json.RawMessage, v []float32, enc Encoding, raw []byte) ([]byte, []byte, error) {
	if id != nil {
		b = append(b, `{"id":`...)
		b = append(b, id...)
	} else {
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(index), 10)
	}
	b = append(b, `,"embedding":`...)
	if enc == EncodingBase64 {
		raw = raw[:0]
		for _, x := range v {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, raw)
		b = append(b, '"', '}', '\n')
		return b, raw, nil
	}
	b = append(b, '[')
	for j, x := range v {
		if j > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendFloat32(b, x); err != nil {
			return b, raw, fmt.Errorf("row %d: %w", index, err)
		}
	}
	b = append(b, ']', '}', '\n')
	return b, raw, nil
}

// appendFloat32 formats x exactly as encoding/json formats a float32, so
// the .jsonl output is unchanged from json.Marshal's.
func appendFloat32(b []byte, x float32) ([]byte, error) {
	f := float64(x)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("the embedding holds %v, which JSON cannot represent (the model's output is not finite; try --encoding base64 to keep it)", x)
	}
	fmtc := byte('f')
	if abs := math.Abs(f); abs != 0 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
		fmtc = 'e'
	}
	b = strconv.AppendFloat(b, f, fmtc, -1, 32)
	if fmtc == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
