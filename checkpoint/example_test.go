package checkpoint_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"gsvae/checkpoint"
)

func ExampleSave() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "run.ckpt")

	err = checkpoint.Save(path, &checkpoint.File{
		Config: []byte(`{"latent":30,"categories":10}`),
		Tensors: []checkpoint.Tensor{
			{Name: "enc.w1", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "enc.b1", Shape: []int{3}, Data: []float32{0.5, 0, -0.5}},
		},
		Blobs:    map[string][]byte{"rng": {42}},
		Counters: map[string]int64{"epoch": 5, "step": 3000},
	})
	if err != nil {
		log.Fatal(err)
	}

	f, err := checkpoint.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	w, err := f.Tensor("enc.w1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("config %s\n", f.Config)
	fmt.Println("epoch", f.Counters["epoch"], "step", f.Counters["step"])
	fmt.Println(w.Name, w.Shape, w.Data)
	_, err = f.Tensor("dec.w1")
	fmt.Println(err)
	// Output:
	// config {"latent":30,"categories":10}
	// epoch 5 step 3000
	// enc.w1 [2 3] [1 2 3 4 5 6]
	// checkpoint: no such tensor: "dec.w1"
}
