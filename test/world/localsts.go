package world

import (
	"context"
	"net/http"
	"strconv"
)

// serveLocalSTS answers the STS calls whose moto answers differ from AWS's, from what the
// gateway knows: GetCallerIdentity (moto names root "user/moto" and federated users as
// their parent) and GetAccessKeyInfo (moto knows only user keys of its own accounts). It
// reports whether it answered.
func (g *Gateway) serveLocalSTS(ctx context.Context, w http.ResponseWriter, r *http.Request, c *call) bool {
	var result string
	switch c.op.Name {
	case "GetCallerIdentity":
		id := g.identity(ctx, c)
		userID := id.PrincipalID
		if id.Type == "IAMUser" && userID == "" {
			return false
		}
		result = "<UserId>" + xmlText(userID) + "</UserId><Account>" + c.account + "</Account><Arn>" + xmlText(id.ARN) + "</Arn>"
	case "GetAccessKeyInfo":
		key, _ := c.op.Params["accessKeyId"].(string)
		account, ok := "", false
		if cred, known := g.keys.get(key); known {
			account, ok = cred.Account, true
		} else {
			account, ok = accountFromAccessKeyID(key)
		}
		if !ok {
			return false // moto answers
		}
		result = "<Account>" + account + "</Account>"
	default:
		return false
	}
	body := []byte(`<` + c.op.Name + `Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><` + c.op.Name + `Result>` +
		result + `</` + c.op.Name + `Result><ResponseMetadata><RequestId>` + c.requestID +
		`</RequestId></ResponseMetadata></` + c.op.Name + `Response>`)
	g.record(c, "", "", nil)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
	return true
}
