// Command loadgen sends steady traffic to the demo through hugai's proxy and prints, every few
// seconds and at the end, which version answered and how: the demo's view of a rollout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hugai-dev/hugai/internal/loadgen"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:18080/", "address to send requests to")
	rate := flag.Int("rate", 100, "requests per second")
	every := flag.Duration("report", 0, "print the counts this often (0: only at the end)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := loadgen.Start(ctx, *url, *rate)
	if *every > 0 {
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					fmt.Println("load:", run.Snapshot())
				}
			}
		}()
	}
	<-ctx.Done()
	fmt.Println("load:", run.Stop())
}
