package serve

import (
	"context"
	"slices"
)

// Heads that trained the encoder's top layers (bertserve train --tune) own
// a tail: those layers with their pooling. Such a head does not read the
// encoder's pooled output but its own tail's output on the hidden state
// below its split. The server stays thin: it only says, per request,
// which outputs it needs (Need), and an embedder that implements
// TailEmbedder (cmd/bertserve's) computes the shared bottom once per batch
// and each distinct tail once on the texts that asked for it.

// TailedHead is a Head with a tail. Tail returns the key of its tail (the
// digest of its graph); heads that share a key share the computation.
type TailedHead interface {
	Head
	Tail() string
}

// tailOf is the tail key of a head ("" for a plain head).
func tailOf(h Head) string {
	if t, ok := h.(TailedHead); ok {
		return t.Tail()
	}
	return ""
}

// Need is what one request needs for each of its texts: the encoder's
// pooled output (Base) and/or the outputs of some tails (by key).
type Need struct {
	Base  bool
	Tails []string
}

// baseOnly is what every route but classify needs.
var baseOnly = Need{Base: true}

// hasTails reports whether the need goes beyond the base output.
func (n Need) hasTails() bool { return len(n.Tails) > 0 }

// needOf is the need of a request for heads.
func needOf(heads []*LoadedHead) Need {
	var n Need
	for _, lh := range heads {
		t := tailOf(lh.Head)
		if t == "" {
			n.Base = true
		} else if !slices.Contains(n.Tails, t) {
			n.Tails = append(n.Tails, t)
		}
	}
	return n
}

// TailEmbedder is an Embedder that can also run heads' tails.
// EmbedNeeds returns, for texts[i], the base vector in Vectors[i] when
// needs[i].Base (nil otherwise) and tail t's vector in Tails[i][t] for
// every t in needs[i].Tails. Like Embed, a text's vectors must not depend
// on its batch-mates.
type TailEmbedder interface {
	Embedder
	EmbedNeeds(ctx context.Context, texts []string, needs []Need) (*Embeddings, error)
}
