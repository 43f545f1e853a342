package awsops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue is an SQS queue in keyleak's own account that EventBridge rules
// send detectors' events to. keyleak long-polls it; nothing inbound is
// exposed.
type Queue struct {
	client *sqs.Client
	url    string
	wait   int32

	mu  sync.Mutex
	dlq string // the dead-letter queue's URL, once found
}

// QueueMessage is one message received from a Queue.
type QueueMessage struct {
	ID       string // SQS's message ID, the same on every receive
	Body     string
	Receipt  string // the handle of this receive, to delete or release it
	Receives int    // how many times it has been received, this one included
}

// ErrNoDeadLetterQueue means the queue has no redrive policy, so a message
// keyleak cannot read has nowhere to go but away.
var ErrNoDeadLetterQueue = errors.New("the queue has no dead-letter queue (redrive policy)")

// ReasonAttribute is the message attribute that says why keyleak sent a
// message to the dead-letter queue.
const ReasonAttribute = "keyleak-reason"

// Queue returns the queue at queueURL. wait is the long poll (1 s to 20 s;
// 20 s when zero).
func (c *Client) Queue(queueURL string, wait time.Duration) (*Queue, error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || strings.Count(strings.Trim(u.Path, "/"), "/") != 1 {
		return nil, fmt.Errorf("queue URL %q is not an SQS queue URL like https://sqs.us-east-1.amazonaws.com/111122223333/keyleak-intake", queueURL)
	}
	if wait == 0 {
		wait = 20 * time.Second
	}
	if wait < time.Second || wait > 20*time.Second {
		return nil, fmt.Errorf("queue long poll %s is outside 1s to 20s", wait)
	}
	cfg := c.base.Copy()
	if r := queueRegion(u.Host); r != "" {
		cfg.Region = r
	}
	return &Queue{client: sqs.NewFromConfig(cfg), url: queueURL, wait: int32(wait / time.Second)}, nil
}

// queueRegion reads the region from an SQS endpoint host
// (sqs.eu-west-1.amazonaws.com, eu-west-1.queue.amazonaws.com).
func queueRegion(host string) string {
	parts := strings.Split(host, ".")
	switch {
	case len(parts) >= 4 && parts[0] == "sqs":
		return parts[1]
	case len(parts) >= 4 && parts[1] == "queue":
		return parts[0]
	}
	return ""
}

// URL is the queue's URL.
func (q *Queue) URL() string { return q.url }

// Receive long-polls for up to ten messages.
func (q *Queue) Receive(ctx context.Context) ([]QueueMessage, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.url), MaxNumberOfMessages: 10, WaitTimeSeconds: q.wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("sqs:ReceiveMessage %s: %w", q.url, err)
	}
	msgs := make([]QueueMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		n, _ := strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs = append(msgs, QueueMessage{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle), Receives: n})
	}
	return msgs, nil
}

// Delete removes a message that has been handled.
func (q *Queue) Delete(ctx context.Context, m QueueMessage) error {
	if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(m.Receipt)}); err != nil {
		return fmt.Errorf("sqs:DeleteMessage %s: %w", m.ID, err)
	}
	return nil
}

// Release makes a message visible again after a while, to be retried.
func (q *Queue) Release(ctx context.Context, m QueueMessage, after time.Duration) error {
	secs := int32(min(max(after, 0), 12*time.Hour) / time.Second)
	if _, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(m.Receipt), VisibilityTimeout: secs}); err != nil {
		return fmt.Errorf("sqs:ChangeMessageVisibility %s: %w", m.ID, err)
	}
	return nil
}

// DeadLetter moves a message keyleak cannot read to the queue's
// dead-letter queue, with the reason as a message attribute, and deletes
// it from the queue. Without a dead-letter queue it returns
// ErrNoDeadLetterQueue and leaves the message where it is.
func (q *Queue) DeadLetter(ctx context.Context, m QueueMessage, reason string) error {
	dlq, err := q.deadLetterQueue(ctx)
	if err != nil {
		return err
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(m.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			ReasonAttribute: {DataType: aws.String("String"), StringValue: aws.String(reason)},
		}}); err != nil {
		return fmt.Errorf("sqs:SendMessage to the dead-letter queue: %w", err)
	}
	return q.Delete(ctx, m)
}

// deadLetterQueue finds the URL of the queue's dead-letter queue from its
// redrive policy.
func (q *Queue) deadLetterQueue(ctx context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dlq != "" {
		return q.dlq, nil
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return "", fmt.Errorf("sqs:GetQueueAttributes %s: %w", q.url, err)
	}
	var policy struct {
		Target string `json:"deadLetterTargetArn"`
	}
	raw := out.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)]
	if raw == "" || json.Unmarshal([]byte(raw), &policy) != nil || policy.Target == "" {
		return "", ErrNoDeadLetterQueue
	}
	// arn:aws:sqs:<region>:<account>:<name>
	f := strings.Split(policy.Target, ":")
	if len(f) != 6 {
		return "", fmt.Errorf("dead-letter target %q is not an SQS queue ARN", policy.Target)
	}
	got, err := q.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(f[5]), QueueOwnerAWSAccountId: aws.String(f[4])})
	if err != nil {
		return "", fmt.Errorf("sqs:GetQueueUrl %s: %w", f[5], err)
	}
	q.dlq = aws.ToString(got.QueueUrl)
	return q.dlq, nil
}
