package awsops

import (
	"context"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/signin"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// SigninEndpoint resolves the AWS Sign-In service to the configured base
// endpoint: its rules send control-plane calls (ListSessions,
// BatchRevokeSessions) to signin.<region>.api.aws whatever the base
// endpoint says.
type SigninEndpoint struct{}

// ResolveEndpoint implements signin.EndpointResolverV2.
func (SigninEndpoint) ResolveEndpoint(ctx context.Context, p signin.EndpointParameters) (smithyendpoints.Endpoint, error) {
	if p.Endpoint == nil {
		return signin.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, p)
	}
	u, err := url.Parse(*p.Endpoint)
	if err != nil {
		return smithyendpoints.Endpoint{}, err
	}
	return smithyendpoints.Endpoint{URI: *u}, nil
}
