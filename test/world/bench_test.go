package world

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// BenchmarkGatewayOverhead times iam:GetUser straight to moto and through the gateway
// (signature check, deny evaluation with cached policies, event recording), alternating the
// two so that drift in moto's speed hits both alike. Metrics: median latency of each path
// and the median of the paired differences (the gateway's overhead).
func BenchmarkGatewayOverhead(b *testing.B) {
	w := newWorld(b)
	user := newUser(b, w, DefaultAccount, "ci-deploy-user")
	client := func(endpoint string) *iam.Client {
		cfg := w.Config("us-east-1", user)
		cfg.BaseEndpoint = aws.String(endpoint)
		return iam.NewFromConfig(cfg)
	}
	direct, gateway := client(w.Moto.URL()), client(w.URL())
	in := &iam.GetUserInput{UserName: aws.String("ci-deploy-user")}
	timeCall := func(c *iam.Client) time.Duration {
		start := time.Now()
		if _, err := c.GetUser(b.Context(), in); err != nil {
			b.Fatalf("GetUser: %v", err)
		}
		return time.Since(start)
	}
	timeCall(direct) // warm connections and the policy cache
	timeCall(gateway)
	var d, g, diff []time.Duration
	for b.Loop() {
		x, y := timeCall(direct), timeCall(gateway)
		d, g, diff = append(d, x), append(g, y), append(diff, y-x)
	}
	median := func(s []time.Duration) float64 {
		slices.Sort(s)
		return float64(s[len(s)/2].Microseconds())
	}
	b.ReportMetric(median(d), "moto-p50-µs")
	b.ReportMetric(median(g), "gateway-p50-µs")
	b.ReportMetric(median(diff), "overhead-p50-µs")
}
