package models

import (
	"fmt"
	"math"

	"github.com/bertserve/bertserve/models/onnx"
)

// Element types a model directory's graph can be built in.
const (
	DTypeFloat32 = "float32"
	DTypeInt8    = "int8"
)

// DTypes lists the accepted BuildOptions.DType values.
var DTypes = []string{DTypeFloat32, DTypeInt8}

// ParseDType maps a --dtype flag value (fp32, float32, int8) to a DType.
func ParseDType(s string) (string, error) {
	switch s {
	case "", "fp32", DTypeFloat32:
		return DTypeFloat32, nil
	case DTypeInt8:
		return DTypeInt8, nil
	}
	return "", fmt.Errorf("unknown dtype %q: use fp32 (the default) or int8", s)
}

// BuildOptions choose the form of the graph BuildWith writes.
type BuildOptions struct {
	// DType is DTypeFloat32 ("" too) or DTypeInt8: the linear layers of
	// every encoder layer quantized dynamically (see BuildWith).
	DType string
	// Calibration maps each quantized input (see Calibrate) to the
	// largest |value| of each of its channels over calibration text.
	// With it, an int8 build divides every channel j of the input by
	// s_j = max|x_j|^α / max|W_j|^(1-α) and multiplies row j of the
	// weights by s_j (SmoothQuant, α = smoothAlpha), which moves the
	// outlier channels of BERT's activations into the weights; without
	// it, the inputs are quantized as they are.
	Calibration map[string][]float32
	// Fused writes the layers with ONNX Runtime's fused CPU operators
	// (com.microsoft Attention or MultiHeadAttention,
	// SkipLayerNormalization, BiasGelu; GELU stays exact): float32 and
	// int8 alike.
	Fused bool
	// calibrate builds the float32 probe graph Calibrate runs: every
	// calibration site is also a graph output.
	calibrate bool
}

// The int8 graph's default-domain opset and IR version (see quantRows).
const (
	quantOpset     = 21
	quantIRVersion = 10
)

// comDomain is the operator domain of ONNX Runtime's contrib operators.
const comDomain = "com.microsoft"

// int8 activation quantization: an unsigned 8-bit code with zero point
// 128, so a symmetric per-row range [-127, 127]·scale maps onto 1..255,
// the u8×s8 form ONNX Runtime's integer kernels (VNNI vpdpbusd) take.
const (
	actZeroPoint = 128
	actLevels    = 127
	// smoothAlpha is SmoothQuant's migration strength. Measured on
	// all-MiniLM-L6-v2 (1,000 SST-2 test sentences, calibration on 256
	// SST-2 train sentences), the worst row's cosine with float32 was
	// 0.9835, 0.9905, 0.9918, 0.9933, 0.9897 at α = 0.3, 0.5, 0.6, 0.7,
	// 0.8, and 0.9735 without smoothing (every input smoothed; without the
	// GELU output's smoothing, see quantInput, 0.9923 at α = 0.7).
	smoothAlpha = 0.7
	// minRowScale keeps an all-zero row (padding) from dividing by zero.
	minRowScale = 1e-12
)

// BuildWith is Build with options. DType int8 writes every Linear layer
// inside the encoder layers (query, key, value, attention output,
// intermediate and output dense) as a dynamically quantized product:
//
//   - weights int8, symmetric, one scale per output column (per channel);
//   - activations quantized at run time per row (per token), symmetric,
//     scale max|x|/127 over that token's features, except the input of
//     query, key and value, which has one static scale from the
//     calibration (see quantInput); either way a token's result never
//     depends on its batch-mates or on padding;
//   - the integer product by ONNX Runtime's MatMulIntegerToFloat (u8×s8,
//     the VNNI path), then times the row scales, plus the float bias.
//
// With Fused, the attention runs under an If that drops the mask for a
// batch without padding (see attention).
//
// The embeddings, LayerNorms, attention scores and softmax, GELU and the
// pooler stay float32. The int8 graph uses the com.microsoft domain, so
// it runs on ONNX Runtime only.
func BuildWith(cfg *Config, weights Weights, opts BuildOptions) (*Built, error) {
	dt, err := ParseDType(opts.DType)
	if err != nil {
		return nil, err
	}
	if dt == DTypeFloat32 && !opts.Fused {
		return Build(cfg, weights)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ws, err := newWeightSet(weights)
	if err != nil {
		return nil, err
	}
	fam := cfg.Family()
	b := &builder{cfg: cfg, ws: ws, g: onnx.NewGraph(fmt.Sprintf(graphNameFmt, cfg.ModelType)), fused: opts.Fused,
		q: &quantState{calib: opts.Calibration, probe: opts.calibrate, siteOut: map[string]string{}}}
	int8 := dt == DTypeInt8
	hasPooler := fam != FamilyDistilBERT && ws.has(poolerName+".weight")
	if fam != FamilyDistilBERT && !hasPooler && ws.has(poolerName+".bias") {
		return nil, fmt.Errorf("checkpoint has %q but no %q", ws.prefix+poolerName+".bias", ws.prefix+poolerName+".weight")
	}
	g := b.g
	ids := g.Input(InputIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	mask := g.Input(InputMask, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	var types string
	if cfg.HasTokenTypes() {
		types = g.Input(InputTypeIDs, onnx.Int64, onnx.Sym(dimBatch), onnx.Sym(dimSequence))
	}
	H := int64(cfg.HiddenSize)
	// The layers work on [batch·sequence, hidden] rows: per-row
	// quantization needs 2-D values, and LayerNorm and the residuals do
	// not care.
	bs := g.Op("Shape", ids)
	b.q.hidden3 = g.OpWith("Concat", []string{bs, g.Ints(H)}, onnx.AttrInt("axis", 0))
	b.q.heads = g.OpWith("Concat", []string{bs, g.Ints(int64(cfg.NumHeads), int64(cfg.HeadDim()))}, onnx.AttrInt("axis", 0))
	h := b.embeddings(ids, types)
	if b.fused {
		b.q.mask32 = g.OpWith("Cast", []string{mask}, onnx.AttrInt("to", int64(onnx.Int32)))
		b.q.one32 = g.Initializer(onnx.Tensor{Name: "int32_one", Type: onnx.Int32, Dims: []int64{}, Raw: []byte{1, 0, 0, 0}})
	}
	switch {
	case int8:
		h = g.Op("Reshape", h, g.Ints(-1, H))
		ext := ""
		if !b.fused {
			ext = b.extendedMask(mask)
		}
		for i := 0; i < cfg.NumLayers; i++ {
			h = b.qlayer(i, h, ext)
		}
		h = g.Op("Reshape", h, b.q.hidden3)
	default:
		for i := 0; i < cfg.NumLayers; i++ {
			h = b.flayer(i, h)
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	out := &Built{Inputs: []string{InputIDs, InputMask}, HasPooler: hasPooler, calibSites: b.q.sites, calibOut: b.q.siteOut}
	if types != "" {
		out.Inputs = append(out.Inputs, InputTypeIDs)
	}
	if err := b.outputs(h, hasPooler, out); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("building the int8 %s graph: %w", cfg.ModelType, err)
	}
	m := onnx.NewModel(g)
	if int8 {
		// QuantizeLinear's blocked form (quantRows) is opset 21, IR 10.
		m.IRVersion, m.Opsets[0].Version = quantIRVersion, quantOpset
	}
	m.Opsets = append(m.Opsets, onnx.Opset{Domain: comDomain, Version: 1})
	m.ProducerName = producerString
	form := "int8 quantization (per-channel weights; activations per token, static for query/key/value)"
	if !int8 {
		form = "float32"
	}
	if b.fused {
		form += ", ONNX Runtime fused operators"
	}
	m.DocString = fmt.Sprintf("%s encoder, %s: %d layers, hidden %d, %d heads, intermediate %d, vocab %d",
		cfg.ModelType, form, cfg.NumLayers, cfg.HiddenSize, cfg.NumHeads, cfg.IntermediateSize, cfg.VocabSize)
	out.Model = m
	return out, nil
}

// quantState is what an int8 build shares across layers.
type quantState struct {
	calib   map[string][]float32
	probe   bool     // building Calibrate's probe graph
	sites   []string // the probe's outputs, site names
	siteOut map[string]string
	heads   string // [batch, sequence, heads, head size]
	hidden3 string // [batch, sequence, hidden]
	zp      string // the activation zero point, uint8 scalar
	mask32  string // the attention mask as int32, for fused attention
	one32   string // int32 scalar 1
	noPad   string // bool scalar: the batch has no padding (attention)
	// outScale multiplies the output columns (weights and bias) of a
	// Linear layer: the attention output's smoothing, folded into the
	// value projection (see qlayer).
	outScale map[string][]float32
}

// quantRows quantizes the rows of x [rows, in] for the products that
// read it: codes uint8 [rows, in] and the row scales [rows, 1]. floor ≥ 0,
// when nonzero, is a known bound on the values from below (x ≥ -floor):
// then max|x| is max(max x, floor), one pass over x instead of two.
//
// The codes come from QuantizeLinear's blocked form (opset 21: one block
// of in channels per row, scale [rows, 1]), which ONNX Runtime 1.24 runs
// near its per-tensor speed; the per-axis form (axis 0, scale [rows]) takes
// 4.0× as long on [1024, 384] (88 vs 22 µs; per tensor 19) and 2.5× on
// [1024, 1536] (145 vs 58 µs).
func (b *builder) quantRows(x string, in int, floor float32) (codes, scale string) {
	g := b.g
	// max|x| as max(max x, -min x): two reads of x, where Abs would also
	// write a copy of it.
	reduce := func(op string) string {
		return g.OpWith(op, []string{x, g.Ints(1)}, onnx.AttrInt("keepdims", 1))
	}
	var amax string
	if floor > 0 {
		amax = g.Op("Max", reduce("ReduceMax"), g.ScalarFloat(floor))
	} else {
		amax = g.Op("Max", g.Op("Max", reduce("ReduceMax"), g.Op("Neg", reduce("ReduceMin"))), g.ScalarFloat(minRowScale*actLevels))
	}
	scale = g.Op("Mul", amax, g.ScalarFloat(1.0/actLevels))
	zps := g.Op("Expand", b.zeroPoint(), g.Op("Shape", scale))
	codes = g.OpWith("QuantizeLinear", []string{x, scale, zps}, onnx.AttrInt("axis", 1), onnx.AttrInt("block_size", int64(in)))
	return codes, scale
}

// zeroPoint is the uint8 activation zero point, one initializer shared
// by every product.
func (b *builder) zeroPoint() string {
	if b.q.zp == "" {
		b.q.zp = b.g.Initializer(onnx.Tensor{Name: "act_zero_point", Type: onnx.Uint8, Dims: []int64{}, Raw: []byte{actZeroPoint}})
	}
	return b.q.zp
}

// qinput is one quantized input ("site"): the float rows x [rows, in],
// their codes and scales (codes "" when nothing reads them quantized),
// and the smoothing factors folded into the weights. scale is either the
// per-row scales [rows, 1] (dynamic) or, with static set, one scalar
// initializer that the integer product applies itself.
type qinput struct {
	x, codes, scale string
	static          bool
	smooth          []float32
}

// Quantized inputs of an encoder layer (site layer.N.<kind>).
const (
	siteQKV     = "qkv"              // the layer's input, read by query, key and value
	siteAttnOut = "attention_output" // the attention context, read by the attention output
	siteFFNIn   = "intermediate"     // read by the intermediate (first feed-forward) layer
	siteFFNOut  = "output"           // the activation's output, read by the output layer
)

// geluFloor bounds every supported activation from below: GELU's minimum
// is -0.16997 (at x ≈ -0.75), its tanh form's about the same, ReLU's 0.
const geluFloor = 0.17

// quantInput prepares the rows x, read by the Linear layers named (each
// [in → out]), for int8 products. What each site gets, measured on
// all-MiniLM-L6-v2 (1,000 SST-2 test sentences, worst row's cosine with
// float32; 0.9923 with every site smoothed and quantized per row):
//
//   - qkv (a LayerNorm output): smoothed, then one static scale,
//     max_j(calibration max|x_j| / s_j)/127, instead of per-row scales
//     (0.9919; IMDb reviews with SST-2 calibration 0.9967 vs 0.9972):
//     no reductions, and the three products take the scale into their
//     GEMM instead of a Mul each. Values past the calibration range
//     saturate. Without calibration the rows are quantized per row.
//   - attention_output: smoothed with the factors folded into the value
//     projection (qlayer), so no Mul; per-row scales (smooth must be the
//     factors qlayer folded).
//   - intermediate: smoothed (a Mul), per-row scales; static here measured
//     0.9881, below the bar.
//   - output (the GELU output): not smoothed (no outlier channels worth
//     the [rows, 4·H] Mul: 0.9933 smoothed, 0.9923 not), per-row scales,
//     max|x| from ReduceMax alone since x ≥ -geluFloor; static here
//     measured 0.9512.
func (b *builder) quantInput(kind, site, x string, in, out int, smooth []float32, layers ...string) qinput {
	g := b.g
	qi := qinput{x: x}
	if b.q.probe {
		g.Output(x, onnx.Float, onnx.Sym("rows"), onnx.Dim(int64(in)))
		b.q.sites = append(b.q.sites, site)
		b.q.siteOut[site] = x
		return qi
	}
	switch kind {
	case siteFFNOut:
		qi.codes, qi.scale = b.quantRows(x, in, geluFloor)
		return qi
	case siteAttnOut:
		qi.smooth = smooth
		qi.codes, qi.scale = b.quantRows(x, in, 0)
		return qi
	}
	qi.smooth = b.smoothing(site, in, out, layers...)
	if qi.smooth == nil {
		qi.codes, qi.scale = b.quantRows(x, in, 0)
		return qi
	}
	inv := make([]float32, in)
	for j, s := range qi.smooth {
		inv[j] = 1 / s
	}
	xs := g.Op("Mul", x, g.InitFloat(site+".smooth.inv", []int64{int64(in)}, inv))
	if kind == siteQKV {
		var amax float32
		for j, a := range b.q.calib[site] {
			amax = max(amax, a*inv[j])
		}
		sc := max(amax, minRowScale*actLevels) / actLevels
		qi.scale, qi.static = g.InitFloat(site+".act.scale", []int64{}, []float32{sc}), true
		qi.codes = g.Op("QuantizeLinear", xs, qi.scale, b.zeroPoint())
		return qi
	}
	qi.codes, qi.scale = b.quantRows(xs, in, 0)
	return qi
}

// smoothing is SmoothQuant's factors for site, read by the Linear layers
// named: s_j = max|x_j|^α / max|W_j|^(1-α) over the calibration and the
// weights' row j; nil without calibration for site.
func (b *builder) smoothing(site string, in, out int, layers ...string) []float32 {
	amax, ok := b.q.calib[site]
	if !ok {
		return nil
	}
	if len(amax) != in {
		b.fail(fmt.Errorf("calibration of %s has %d channels, the layer reads %d", site, len(amax), in))
		return nil
	}
	wmax := make([]float32, in)
	for _, l := range layers {
		wt, _, err := b.ws.linear(l, in, out)
		if err != nil {
			b.fail(err)
			return nil
		}
		for j := 0; j < in; j++ {
			for _, v := range wt[j*out : (j+1)*out] {
				wmax[j] = max(wmax[j], float32(math.Abs(float64(v))))
			}
		}
	}
	smooth := make([]float32, in)
	for j := range in {
		smooth[j] = 1
		if amax[j] > 0 && wmax[j] > 0 {
			smooth[j] = float32(math.Pow(float64(amax[j]), smoothAlpha) / math.Pow(float64(wmax[j]), 1-smoothAlpha))
		}
	}
	return smooth
}

// linear is the weights [in, out] and bias of the Linear layer called
// name, with the output scaling outScale records for it applied.
func (b *builder) linear(name string, in, out int) ([]float32, []float32, error) {
	wt, bias, err := b.ws.linear(name, in, out)
	cs := b.q.outScale[name]
	if err != nil || cs == nil {
		return wt, bias, err
	}
	w2, b2 := make([]float32, len(wt)), make([]float32, len(bias))
	for k := 0; k < in; k++ {
		for n := 0; n < out; n++ {
			w2[k*out+n] = wt[k*out+n] * cs[n]
		}
	}
	for n := range bias {
		b2[n] = bias[n] * cs[n]
	}
	return w2, b2, nil
}

func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// qdense is dense on the quantized input qi: the Linear layer called
// name as an int8 product, or as float32
// when building the calibration probe.
func (b *builder) qdense(name string, qi qinput, in, out int) string {
	y, bias := b.qmatmul(name, qi, in, out)
	if b.err != nil {
		return qi.x
	}
	return b.g.Op("Add", y, bias)
}

// qmatmul is qdense without the bias Add: it returns the product and the
// bias initializer, for fused operators that add the bias themselves.
func (b *builder) qmatmul(name string, qi qinput, in, out int) (y, biasName string) {
	if qi.codes == "" {
		return b.matmul(name, qi.x, in, out)
	}
	wt, bias, err := b.linear(name, in, out)
	if err != nil {
		b.fail(err)
		return qi.x, ""
	}
	g := b.g
	if qi.smooth != nil {
		scaled := make([]float32, len(wt))
		for j := 0; j < in; j++ {
			for n := 0; n < out; n++ {
				scaled[j*out+n] = wt[j*out+n] * qi.smooth[j]
			}
		}
		wt = scaled
	}
	wq, ws := quantizeColumns(wt, in, out)
	w := g.Initializer(onnx.Tensor{Name: name + ".weight.T.int8", Type: onnx.Int8, Dims: []int64{int64(in), int64(out)}, Raw: wq})
	wsc := g.InitFloat(name+".weight.scale", []int64{int64(out)}, ws)
	bn := g.InitFloat(name+".bias", []int64{int64(out)}, bias)
	if qi.static {
		return b.com("MatMulIntegerToFloat", []string{qi.codes, w, qi.scale, wsc, b.zeroPoint()}), bn
	}
	y = b.com("MatMulIntegerToFloat", []string{qi.codes, w, g.ScalarFloat(1), wsc, b.zeroPoint()})
	return g.Op("Mul", y, qi.scale), bn
}

// quantizeColumns quantizes w [in, out] to int8 with one symmetric scale
// per output column: w ≈ q·scale, |q| ≤ 127.
func quantizeColumns(w []float32, in, out int) ([]byte, []float32) {
	scale := make([]float32, out)
	for k := 0; k < in; k++ {
		row := w[k*out : (k+1)*out]
		for n, v := range row {
			if a := float32(math.Abs(float64(v))); a > scale[n] {
				scale[n] = a
			}
		}
	}
	for n := range scale {
		scale[n] /= actLevels
		if scale[n] == 0 {
			scale[n] = 1
		}
	}
	q := make([]byte, in*out)
	for k := 0; k < in; k++ {
		for n := 0; n < out; n++ {
			v := math.RoundToEven(float64(w[k*out+n] / scale[n]))
			v = math.Max(-actLevels, math.Min(actLevels, v))
			q[k*out+n] = byte(int8(v))
		}
	}
	return q, scale
}

// qlayer is layer with quantized products, on [rows, hidden] values.
func (b *builder) qlayer(i int, x, ext string) string {
	if b.err != nil {
		return x
	}
	g, cfg := b.g, b.cfg
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	hd := int64(cfg.HeadDim())
	n := layerParamNames(cfg.Family(), i)

	site := func(what string) string { return fmt.Sprintf("layer.%d.%s", i, what) }
	// The attention output's smoothing: the context is a convex mix of
	// value rows, so dividing the value projection's output columns (and
	// bias) by s_j divides context channel j by s_j, for free.
	attSmooth := b.smoothing(site(siteAttnOut), H, H, n.o)
	if attSmooth != nil {
		inv := make([]float32, H)
		for j, s := range attSmooth {
			inv[j] = 1 / s
		}
		if b.q.outScale == nil {
			b.q.outScale = map[string][]float32{}
		}
		b.q.outScale[n.v] = inv
	}
	qx := b.quantInput(siteQKV, site(siteQKV), x, H, H, nil, n.q, n.k, n.v)
	if b.fused {
		var p [3]string
		bias := make([]float32, 0, 3*H)
		for j, name := range []string{n.q, n.k, n.v} {
			y, _ := b.qmatmul(name, qx, H, H)
			p[j] = g.Op("Reshape", y, b.q.hidden3)
			_, bs, err := b.linear(name, H, H)
			if err != nil {
				b.fail(err)
				return x
			}
			bias = append(bias, bs...)
		}
		bqkv := g.InitFloat(site("qkv.bias"), []int64{int64(3 * H)}, bias)
		ctx := b.attention("MultiHeadAttention", []string{p[0], p[1], p[2], bqkv})
		ctx = g.Op("Reshape", ctx, g.Ints(-1, int64(H)))
		att, bo := b.qmatmul(n.o, b.quantInput(siteAttnOut, site(siteAttnOut), ctx, H, H, attSmooth), H, H)
		x = b.skipLayerNorm(n.ln1, att, x, bo)
		ff, b1 := b.qmatmul(n.ff1, b.quantInput(siteFFNIn, site(siteFFNIn), x, H, I, nil, n.ff1), H, I)
		ff = b.biasActivation(ff, b1)
		ff, b2 := b.qmatmul(n.ff2, b.quantInput(siteFFNOut, site(siteFFNOut), ff, I, H, nil), I, H)
		return b.skipLayerNorm(n.ln2, ff, x, b2)
	}
	split := func(name string, perm ...int64) string {
		return g.OpWith("Transpose", []string{g.Op("Reshape", b.qdense(name, qx, H, H), b.q.heads)}, onnx.AttrInts("perm", perm...))
	}
	q := split(n.q, 0, 2, 1, 3)
	k := split(n.k, 0, 2, 3, 1)
	v := split(n.v, 0, 2, 1, 3)
	scores := g.Op("Div", g.Op("MatMul", q, k), g.ScalarFloat(float32(math.Sqrt(float64(hd)))))
	probs := g.OpWith("Softmax", []string{g.Op("Add", scores, ext)}, onnx.AttrInt("axis", -1))
	ctx := g.OpWith("Transpose", []string{g.Op("MatMul", probs, v)}, onnx.AttrInts("perm", 0, 2, 1, 3))
	ctx = g.Op("Reshape", ctx, g.Ints(-1, int64(H)))
	att := b.qdense(n.o, b.quantInput(siteAttnOut, site(siteAttnOut), ctx, H, H, attSmooth), H, H)
	x = b.layerNorm(n.ln1, g.Op("Add", att, x))

	ff := b.activation(b.qdense(n.ff1, b.quantInput(siteFFNIn, site(siteFFNIn), x, H, I, nil, n.ff1), H, I))
	ff = b.qdense(n.ff2, b.quantInput(siteFFNOut, site(siteFFNOut), ff, I, H, nil), I, H)
	return b.layerNorm(n.ln2, g.Op("Add", ff, x))
}
