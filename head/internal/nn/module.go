package nn

// Module is one differentiable step of a network.
type Module[T Float] interface {
	// Params returns the trainable parameters (nil for none).
	Params() []*Param[T]
	// Forward computes the output for a batch and caches what Backward
	// needs. train enables training-only behaviour such as dropout.
	Forward(x *Mat[T], train bool) *Mat[T]
	// Backward takes the loss gradient with respect to the last Forward's
	// output, adds parameter gradients into Param.G, and returns the
	// gradient with respect to that Forward's input when needDX is set
	// (nil otherwise).
	Backward(dy *Mat[T], needDX bool) *Mat[T]
	// Infer computes the output in evaluation mode without touching any
	// cached state; it is safe for concurrent use.
	Infer(x *Mat[T]) *Mat[T]
}

// Sequential chains modules.
type Sequential[T Float] struct {
	Layers []Module[T]
}

// Params returns every layer's parameters in order.
func (s *Sequential[T]) Params() []*Param[T] {
	var ps []*Param[T]
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Forward runs the layers in order.
func (s *Sequential[T]) Forward(x *Mat[T], train bool) *Mat[T] {
	for _, l := range s.Layers {
		x = l.Forward(x, train)
	}
	return x
}

// Backward runs the layers in reverse. The first layer is asked for an
// input gradient only when needDX is set, which saves a product per step
// (the encoder is frozen, so embeddings need no gradient).
func (s *Sequential[T]) Backward(dy *Mat[T], needDX bool) *Mat[T] {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy, i > 0 || needDX)
	}
	return dy
}

// Infer runs the layers in evaluation mode.
func (s *Sequential[T]) Infer(x *Mat[T]) *Mat[T] {
	for _, l := range s.Layers {
		x = l.Infer(x)
	}
	return x
}
