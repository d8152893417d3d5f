package sweep

// table1 holds Table 1 of Jang, Gu & Poole (2017): test negative
// log-likelihood bounds in nats (m = 1000 importance samples; lower is
// better), by task, latent kind and estimator. The paper has no nvil
// column. Its VAE rows are for its 784-200-784 networks; Collect shows them
// beside every architecture of the task, the h512-256 rows as a comparison
// in kind only.
var table1 = map[string]map[string]map[string]float64{
	"sbn": {
		"bernoulli":   {"sf": 72.0, "darn": 59.7, "muprop": 58.9, "st": 58.9, "annealed-st": 58.7, "gs": 58.5, "st-gs": 59.3},
		"categorical": {"sf": 73.1, "darn": 67.9, "muprop": 63.0, "st": 61.8, "annealed-st": 61.1, "gs": 59.0, "st-gs": 59.7},
	},
	"vae": {
		"bernoulli":   {"sf": 112.2, "darn": 110.9, "muprop": 109.7, "st": 116.0, "annealed-st": 111.5, "gs": 105.0, "st-gs": 111.5},
		"categorical": {"sf": 110.6, "darn": 128.8, "muprop": 107.0, "st": 110.9, "annealed-st": 107.8, "gs": 101.5, "st-gs": 107.8},
	},
}

// Paper returns the number of Table 1 of Jang, Gu & Poole (2017) for a
// task, latent kind and estimator, and false if the paper has none.
func Paper(task, latent, estimator string) (float64, bool) {
	v, ok := table1[task][latent][estimator]
	return v, ok
}
