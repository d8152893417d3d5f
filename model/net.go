package model

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gsvae/gumbel"
)

// Net is a network's parameters as nodes of one gorgonia graph, with the
// pieces that a gradient estimator, or an evaluation, composes into a
// computation. Forward composes them the way every forward pass does.
type Net struct {
	cfg   Config
	g     *G.ExprGraph
	nodes G.Nodes // every parameter, in the order of Params
}

// NewNet wraps every tensor of p, which must fit cfg, in a node of g of the
// same name. The nodes share the tensors: an update of p is seen by every
// graph built on it.
func NewNet(g *G.ExprGraph, cfg Config, p *Params) (*Net, error) {
	if len(p.Tensors) == 0 {
		return nil, fmt.Errorf("model: no parameters")
	}
	if err := p.Check(cfg, p.Tensors[0].Dtype()); err != nil {
		return nil, err
	}
	n := &Net{cfg: cfg, g: g, nodes: make(G.Nodes, len(p.Tensors))}
	for i, t := range p.Tensors {
		n.nodes[i] = G.NewMatrix(g, t.Dtype(), G.WithName(p.Names[i]), G.WithValue(t))
	}
	return n, nil
}

// Config returns the network's configuration.
func (n *Net) Config() Config { return n.cfg }

// Graph returns the graph the network's nodes belong to.
func (n *Net) Graph() *G.ExprGraph { return n.g }

// Dtype returns the element type of the network's parameters.
func (n *Net) Dtype() tensor.Dtype { return n.nodes[0].Dtype() }

// Params returns the parameter nodes, in the order of Params.
func (n *Net) Params() G.Nodes { return n.nodes }

// node returns the parameter node called name.
func (n *Net) node(name string) *G.Node {
	for _, node := range n.nodes {
		if node.Name() == name {
			return node
		}
	}
	return nil
}

// layerNodes returns the names and the (weight, bias) nodes of the layers
// named, in order.
func (n *Net) layerNodes(names ...string) ([]string, G.Nodes) {
	var wb G.Nodes
	for _, name := range names {
		wb = append(wb, n.node(name+".w"), n.node(name+".b"))
	}
	return names, wb
}

// encoderLayers and decoderLayers name the VAE's layers.
func (n *Net) encoderLayers() []string { return n.layersOf(PartEncoder) }
func (n *Net) decoderLayers() []string { return n.layersOf(PartDecoder) }

// layersOf names the network layers of one part, in order.
func (n *Net) layersOf(part string) []string {
	var names []string
	for _, l := range n.cfg.netLayers() {
		if l.part == part {
			names = append(names, l.name)
		}
	}
	return names
}

// Logits returns the (B, N*K) logits of stochastic layer i (0 or, for the
// SBN, 1) in the categorical view: for i = 0 from the data in (B, In()),
// for i = 1 from the previous layer's code (B, N*K). frozen builds a copy
// of the layers that passes gradients to its input but gives its weights
// none.
//
//	VAE:  logits = enc(x)               (the MLP 784-...-Code, ReLU between layers)
//	SBN:  logits_1 = x_upper W_h1^T + b_h1,   logits_2 = h1 W_h2^T + b_h2
func (n *Net) Logits(i int, in *G.Node, frozen bool) (*G.Node, error) {
	return n.logits(i, in, i > 0, frozen)
}

// logits is Logits, with inputGrad saying whether the input needs a
// gradient.
func (n *Net) logits(i int, in *G.Node, inputGrad, frozen bool) (*G.Node, error) {
	var names []string
	switch {
	case !n.cfg.SBN() && i == 0:
		names = n.encoderLayers()
	case n.cfg.SBN() && i == 0:
		names = []string{"h1"}
	case n.cfg.SBN() && i == 1:
		names = []string{"h2"}
		var err error
		if in, err = n.narrow(in); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("model: stochastic layer %d of %d", i, n.cfg.Layers())
	}
	names, wb := n.layerNodes(names...)
	logits, err := mlp(names, in, wb, inputGrad, frozen) // (B, Code)
	if err != nil || !n.cfg.Bernoulli() {
		return logits, err
	}
	return pairs(logits, true) // (B, N*K)
}

// narrow turns a code of the categorical view into the network's input:
// the first entry of each pair for Bernoulli latents.
func (n *Net) narrow(code *G.Node) (*G.Node, error) {
	if !n.cfg.Bernoulli() {
		return code, nil
	}
	return pairs(code, false)
}

// PixelLogits returns the (B, Out()) Bernoulli logits of the pixels the
// network predicts from the last stochastic layer's code (B, N*K):
//
//	VAE:  dec(z)               (the MLP Code-...-784)
//	SBN:  h2 W_xl^T + b_xl
//
// inputGrad says whether the code needs a gradient; frozen as in Logits.
func (n *Net) PixelLogits(code *G.Node, inputGrad, frozen bool) (*G.Node, error) {
	in, err := n.narrow(code)
	if err != nil {
		return nil, err
	}
	names, wb := n.layerNodes(n.decoderLayers()...)
	return mlp(names, in, wb, inputGrad, frozen)
}

// SampledPixelLogits is PixelLogits for codes that hold samples (every
// entry 0 or 1) and need no gradient. For categorical codes, whose ones
// are 1/K of their entries, the first layer sums the weight columns the
// ones select instead of multiplying (see sampledLinear), which an
// evaluation decoding many samples per image spends most of its time on
// otherwise; Bernoulli codes (half of their bits on) keep the product,
// which is faster for them.
func (n *Net) SampledPixelLogits(code *G.Node) (*G.Node, error) {
	if n.cfg.Bernoulli() {
		return n.PixelLogits(code, false, false)
	}
	names, wb := n.layerNodes(n.decoderLayers()...)
	in, err := sampledLinear(names[0], code, wb[0], wb[1], len(names) > 1) // a categorical code is the layer's input as it is
	if err != nil {
		return nil, err
	}
	return mlp(names[1:], in, wb[2:], false, false)
}

// SampledLogits is Logits(i, code, false) for a layer i > 0 whose input
// code holds samples and needs no gradient (see SampledPixelLogits).
func (n *Net) SampledLogits(i int, code *G.Node) (*G.Node, error) {
	if !n.cfg.SBN() || i != 1 {
		return nil, fmt.Errorf("model: stochastic layer %d has no sampled input", i)
	}
	if n.cfg.Bernoulli() {
		return n.logits(i, code, false, false)
	}
	names, wb := n.layerNodes("h2")
	return sampledLinear(names[0], code, wb[0], wb[1], false) // categorical: (B, N*K) in and out
}

// SampledNegLogLik is NegLogLik for codes that hold samples and need no
// gradient, with SampledPixelLogits.
func (n *Net) SampledNegLogLik(code, target *G.Node) (*G.Node, error) {
	l, err := n.SampledPixelLogits(code)
	if err != nil {
		return nil, err
	}
	return negLogLik(l, target)
}

// NegLogLik returns the (B) node of -log p(target | code), the
// reconstruction term f of the loss: the Bernoulli likelihood of the
// binary pixels target (B, Out()) under PixelLogits(code).
func (n *Net) NegLogLik(code, target *G.Node, inputGrad, frozen bool) (*G.Node, error) {
	l, err := n.PixelLogits(code, inputGrad, frozen)
	if err != nil {
		return nil, err
	}
	return negLogLik(l, target)
}

// KL returns the (B) node of the VAE's analytic KL(q(z|x) || p(z)) of the
// posterior logits (B, N*K), against the uniform or the learned prior
// (gumbel.CategoricalKL); nil for the SBN, whose loss has no KL.
func (n *Net) KL(logits *G.Node) (*G.Node, error) {
	if n.cfg.SBN() {
		return nil, nil
	}
	var prior *G.Node
	if n.cfg.Learned() {
		prior = n.node("prior.logits") // (1, Code)
		if n.cfg.Bernoulli() {
			var err error
			if prior, err = pairs(prior, true); err != nil {
				return nil, err
			}
		}
	}
	return gumbel.CategoricalKL(logits, n.cfg.K, prior)
}

// Baseline returns the (B, 1) node of NVIL's input-dependent baseline
// b(x), a one-hidden-layer ReLU network of the data in (B, In()).
func (n *Net) Baseline(in *G.Node) (*G.Node, error) {
	if n.cfg.Baseline == 0 {
		return nil, fmt.Errorf("model: the configuration has no baseline network")
	}
	names, wb := n.layerNodes("base0", "base1")
	return mlp(names, in, wb, false, false)
}

// A Coder turns the logits of stochastic layer i into the code the next
// network reads: the relaxed sample, a one-hot sample, or a one-hot sample
// with a gradient rule of its own. It is how a gradient estimator treats
// the layer (see package estimator).
type Coder func(i int, logits *G.Node) (*G.Node, error)

// Options says where a forward pass lets gradients through, and what it
// computes in place of the defaults.
type Options struct {
	// CodeGrad: the decoder passes its gradient back to the last code
	// (false for samples that take none, which spares the products that
	// would compute it).
	CodeGrad bool
	// LinkGrad: the logits of layer i > 0 pass their gradient back to
	// layer i-1's code.
	LinkGrad bool
	// GradScale, when set, holds one scalar node per stochastic layer: the
	// gradient that reaches the layer's logits, from every term that reads
	// them (the KL's too), is multiplied by it before it flows into the
	// network that computed them. Variance normalisation sets it to 1/norm.
	GradScale []*G.Node
	// KL, when set, computes the VAE's KL term from the (scaled) logits
	// in place of the analytic KL (as the relaxed KL does).
	KL func(logits *G.Node) (*G.Node, error)
}

// Pass holds the nodes of one forward pass (see Forward).
type Pass struct {
	// Logits and Codes hold each stochastic layer's (B, N*K) logits, as
	// every term reads them (after GradScale), and the code its Coder gave.
	Logits, Codes []*G.Node
	// PixelLogits are the (B, Out()) Bernoulli logits of the predicted
	// pixels, and Rec the (B) reconstruction term -log p(target | codes).
	PixelLogits, Rec *G.Node
	// KL is the VAE's (B) KL(q(z|x) || p(z)); nil for the SBN.
	KL *G.Node
}

// Forward composes the network on the data in (B, In()) and the pixels to
// predict target (B, Out()), with code deciding what each stochastic layer
// passes on:
//
//	VAE:  logits = enc(x)               q(z|x) = softmax(logits) per variable
//	      z      = code(0, logits)      e.g. the Gumbel-Softmax sample
//	      rec    = -log p(x | z)        Bernoulli pixels, logits dec(z)
//	      KL     = KL(q(z|x) || p(z))
//	SBN:  h1 = code(0, logits_1(x_upper)),  h2 = code(1, logits_2(h1)),
//	      rec = -log p(x_lower | h2)
//
// The loss of a batch is sum_b w_b (rec_b + KL_b) (see WeightedSum).
func (n *Net) Forward(in, target *G.Node, code Coder, opt Options) (*Pass, error) {
	if opt.GradScale != nil && len(opt.GradScale) != n.cfg.Layers() {
		return nil, fmt.Errorf("model: %d gradient scales for %d stochastic layers", len(opt.GradScale), n.cfg.Layers())
	}
	p := &Pass{}
	h := in
	for i := range n.cfg.Layers() {
		logits, err := n.logits(i, h, i > 0 && opt.LinkGrad, false) // (B, N*K)
		if err != nil {
			return nil, err
		}
		if opt.GradScale != nil {
			if logits, err = ScaleGrad(logits, opt.GradScale[i]); err != nil {
				return nil, err
			}
		}
		if h, err = code(i, logits); err != nil { // (B, N*K)
			return nil, err
		}
		p.Logits, p.Codes = append(p.Logits, logits), append(p.Codes, h)
	}
	var err error
	if p.PixelLogits, err = n.PixelLogits(h, opt.CodeGrad, false); err != nil { // (B, Out())
		return nil, err
	}
	if p.Rec, err = negLogLik(p.PixelLogits, target); err != nil { // (B)
		return nil, err
	}
	switch {
	case n.cfg.SBN():
	case opt.KL != nil:
		p.KL, err = opt.KL(p.Logits[0])
	default:
		p.KL, err = n.KL(p.Logits[0]) // (B)
	}
	return p, err
}
