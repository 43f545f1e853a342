package world

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// family is a service's wire protocol, which decides the shape of its errors.
type family int

const (
	familyQuery    family = iota // IAM, STS: XML <ErrorResponse>
	familyEC2                    // EC2: XML <Response><Errors>
	familyS3                     // S3: XML <Error>
	familyJSON                   // JSON 1.1 with X-Amz-Target: Cost Explorer, CloudTrail
	familyRESTJSON               // REST JSON: Lambda
)

// failure is a kind of error the gateway answers itself, whatever the service.
type failure int

const (
	failInvalidKey failure = iota
	failMissingAuth
	failBadSignature
	failExpired
	failAccessDenied
	failThrottled
	failInternal
)

// apiError is an AWS error response.
type apiError struct {
	Status  int
	Code    string
	Message string
}

// errorFor returns the error a service of family f answers for kind k.
func errorFor(f family, k failure) apiError {
	switch k {
	case failInvalidKey:
		return pick(f,
			apiError{403, "InvalidClientTokenId", "The security token included in the request is invalid."},
			apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"},
			apiError{403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."},
			apiError{400, "UnrecognizedClientException", "The security token included in the request is invalid."})
	case failMissingAuth:
		return pick(f,
			apiError{403, "MissingAuthenticationToken", "Request is missing Authentication Token"},
			apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"},
			apiError{403, "AccessDenied", "Access Denied"},
			apiError{400, "MissingAuthenticationTokenException", "Missing Authentication Token"})
	case failBadSignature:
		const msg = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
		return pick(f,
			apiError{403, "SignatureDoesNotMatch", msg},
			apiError{401, "AuthFailure", "AWS was not able to validate the provided access credentials"},
			apiError{403, "SignatureDoesNotMatch", msg},
			apiError{400, "InvalidSignatureException", msg})
	case failExpired:
		return pick(f,
			apiError{403, "ExpiredToken", "The security token included in the request is expired"},
			apiError{400, "RequestExpired", "Request has expired."},
			apiError{400, "ExpiredToken", "The provided token has expired."},
			apiError{400, "ExpiredTokenException", "The security token included in the request is expired"})
	case failAccessDenied:
		return pick(f,
			apiError{403, "AccessDenied", "Access Denied"},
			apiError{403, "UnauthorizedOperation", "You are not authorized to perform this operation."},
			apiError{403, "AccessDenied", "Access Denied"},
			apiError{400, "AccessDeniedException", "Access Denied"})
	case failThrottled:
		e := pick(f,
			apiError{400, "Throttling", "Rate exceeded"},
			apiError{503, "RequestLimitExceeded", "Request limit exceeded."},
			apiError{503, "SlowDown", "Please reduce your request rate."},
			apiError{400, "ThrottlingException", "Rate exceeded"})
		if f == familyRESTJSON {
			e = apiError{429, "TooManyRequestsException", "Rate exceeded"}
		}
		return e
	default:
		return pick(f,
			apiError{500, "InternalFailure", "We encountered an internal error. Please try again."},
			apiError{500, "InternalError", "An internal error has occurred"},
			apiError{500, "InternalError", "We encountered an internal error. Please try again."},
			apiError{500, "InternalFailure", "We encountered an internal error. Please try again."})
	}
}

// pick chooses among the query, EC2, S3 and JSON forms; REST JSON (Lambda) takes the JSON
// form with status 403 instead of 400.
func pick(f family, query, ec2, s3, jsonErr apiError) apiError {
	switch f {
	case familyEC2:
		return ec2
	case familyS3:
		return s3
	case familyJSON:
		return jsonErr
	case familyRESTJSON:
		if jsonErr.Status == 400 {
			jsonErr.Status = 403
		}
		return jsonErr
	default:
		return query
	}
}

// errorBody renders e in the wire format of family f.
func errorBody(f family, e apiError, requestID string) (contentType string, body []byte) {
	switch f {
	case familyJSON, familyRESTJSON:
		b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
		return "application/x-amz-json-1.1", b
	case familyEC2:
		return "text/xml", []byte(xml.Header + `<Response><Errors><Error><Code>` + xmlText(e.Code) +
			`</Code><Message>` + xmlText(e.Message) + `</Message></Error></Errors><RequestID>` +
			requestID + `</RequestID></Response>`)
	case familyS3:
		return "application/xml", []byte(xml.Header + `<Error><Code>` + xmlText(e.Code) + `</Code><Message>` +
			xmlText(e.Message) + `</Message><RequestId>` + requestID + `</RequestId></Error>`)
	default:
		return "text/xml", []byte(`<ErrorResponse><Error><Type>Sender</Type><Code>` + xmlText(e.Code) +
			`</Code><Message>` + xmlText(e.Message) + `</Message></Error><RequestId>` + requestID +
			`</RequestId></ErrorResponse>`)
	}
}

func writeAPIError(w http.ResponseWriter, r *http.Request, f family, e apiError, requestID string) {
	contentType, body := errorBody(f, e, requestID)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Requestid", requestID)
	if f == familyJSON || f == familyRESTJSON {
		h.Set("X-Amzn-Errortype", e.Code)
	}
	if r.Method == http.MethodHead {
		body = nil
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// responseError reads the error code and message from a service's error response.
func responseError(status int, header http.Header, body []byte) (code, message string) {
	if status < 300 {
		return "", ""
	}
	if t := header.Get("X-Amzn-Errortype"); t != "" {
		code = t
	}
	var j struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	if json.Unmarshal(body, &j) == nil {
		if code == "" {
			code = j.Type
		}
		message = j.Message
		if message == "" {
			message = j.MessageU
		}
	} else {
		var x struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
			Code2   string `xml:"Errors>Error>Code"`
			Msg2    string `xml:"Errors>Error>Message"`
			Code3   string `xml:"Code"`
			Msg3    string `xml:"Message"`
		}
		if xml.Unmarshal(body, &x) == nil {
			code, message = firstNonEmpty(code, x.Code, x.Code2, x.Code3), firstNonEmpty(x.Message, x.Msg2, x.Msg3)
		}
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = strings.ReplaceAll(http.StatusText(status), " ", "") // S3 HEAD errors have no body: NotFound
	}
	if code == "" {
		code = "HTTP" + strconv.Itoa(status)
	}
	return code, message
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
