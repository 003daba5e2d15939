// Command hello is the smallest program an image can carry: the image
// index test builds it for each architecture, which costs seconds, where
// idtenant itself would cost minutes per architecture.
package main

import "fmt"

func main() { fmt.Println("hello from the image") }
