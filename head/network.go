package head

import (
	"fmt"

	"github.com/bertserve/bertserve/head/internal/nn"
)

// arch is everything that fixes the shapes of a head's tensors.
type arch struct {
	Head       string
	Hidden     []int
	Activation string
	Dropout    float64
	Dim        int
	Classes    int
}

func archOf(c TrainConfig, dim, classes int) arch {
	a := arch{Head: c.Head, Dim: dim, Classes: classes}
	if c.Head == HeadMLP {
		a.Hidden, a.Activation, a.Dropout = append([]int(nil), c.Hidden...), c.Activation, c.Dropout
	}
	return a
}

// network is a built head: the layers in order plus bookkeeping.
type network[T nn.Float] struct {
	seq        *nn.Sequential[T]
	headParams int
}

// Stream offsets of the generators derived from the seed.
const (
	streamInit    = 0
	streamShuffle = 1
	streamDropout = 2
)

func seedStream(seed uint64, stream uint64) *nn.RNG {
	return nn.NewRNG(seed*0x100000001B3 + stream*0xD1B54A32D192ED03)
}

// buildNetwork lays out ([linear → activation → dropout] per
// hidden layer) → linear to the classes. The softmax head's weights start
// at zero; MLP layers start as PyTorch's nn.Linear does.
func buildNetwork[T nn.Float](a arch, seed uint64) (*network[T], error) {
	if a.Dim < 1 || a.Classes < 2 {
		return nil, fmt.Errorf("a head needs dim >= 1 and at least 2 classes (got dim %d, %d classes)", a.Dim, a.Classes)
	}
	initRNG, dropRNG := seedStream(seed, streamInit), seedStream(seed, streamDropout)
	net := &network[T]{seq: &nn.Sequential[T]{}}
	in := a.Dim
	switch a.Head {
	case HeadSoftmax:
	case HeadMLP:
		act, err := nn.ParseAct(a.Activation)
		if err != nil {
			return nil, err
		}
		if len(a.Hidden) < 1 || len(a.Hidden) > 2 {
			return nil, fmt.Errorf("the mlp head takes 1 or 2 hidden layers, got %d", len(a.Hidden))
		}
		for i, h := range a.Hidden {
			if h < 1 {
				return nil, fmt.Errorf("hidden layer %d has width %d", i, h)
			}
			net.seq.Layers = append(net.seq.Layers,
				nn.NewLinear[T](fmt.Sprintf("hidden.%d", i), in, h, initRNG, false),
				nn.NewActivation[T](act))
			if a.Dropout > 0 {
				net.seq.Layers = append(net.seq.Layers, nn.NewDropout[T](a.Dropout, dropRNG))
			}
			in = h
		}
	default:
		return nil, fmt.Errorf("unknown head %q (want softmax or mlp)", a.Head)
	}
	net.seq.Layers = append(net.seq.Layers, nn.NewLinear[T]("out", in, a.Classes, initRNG, a.Head == HeadSoftmax))
	net.headParams = nn.CountParams(net.seq.Params())
	return net, nil
}

// paramShapes lists the tensors a network of this architecture has,
// without allocating them (buildNetwork creates the same names).
func (a arch) paramShapes() map[string][]int {
	s := map[string][]int{}
	in := a.Dim
	if a.Head == HeadMLP {
		for i, h := range a.Hidden {
			s[fmt.Sprintf("hidden.%d.weight", i)] = []int{h, in}
			s[fmt.Sprintf("hidden.%d.bias", i)] = []int{h}
			in = h
		}
	}
	s["out.weight"] = []int{a.Classes, in}
	s["out.bias"] = []int{a.Classes}
	return s
}
