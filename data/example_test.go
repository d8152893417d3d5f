package data_test

import (
	"fmt"

	"gsvae/data"
)

func ExampleParseBinarization() {
	b, err := data.ParseBinarization("dynamic")
	fmt.Println(b, err)
	_, err = data.ParseBinarization("random")
	fmt.Println(err)
	// Output:
	// dynamic <nil>
	// unknown binarization "random": want "fixed" or "dynamic"
}

func ExampleSequential() {
	s := &data.Split{
		Name:      "tiny",
		N:         5,
		Intensity: make([]uint8, 5*data.Pixels),
		Binary:    make([]uint8, 5*data.Pixels),
	}
	b := data.Sequential(s, 2)
	dst := make([]float32, 2*data.Pixels)
	fmt.Println("batches per epoch:", b.Len())
	for rows := b.Next(dst); rows > 0; rows = b.Next(dst) {
		fmt.Println("rows:", rows)
	}
	// Output:
	// batches per epoch: 3
	// rows: 2
	// rows: 2
	// rows: 1
}
