// Package trail reads CloudTrail records: Decode turns one record's JSON
// into a Record (the fields keyleak uses, checked against encoding/json),
// and a Scanner goes through gzip'd log files as CloudTrail writes them to
// S3, finds the tracked access key IDs in the bytes and decodes only the
// records that hold one, in bounded memory and with caps against
// decompression bombs. It knows nothing of AWS's SDK: awsops lists and
// fetches the objects, and LookupEvents pages go through Decode too.
//
//	record.go         Record, the fields of one event
//	decode.go         Decode, a fast decoder of one record
//	json.go           the byte-level JSON helpers of the decoder and scanner
//	locate.go         finding a record's bounds around a key in the bytes
//	scan.go           Scanner: one object, streaming
//	scan_parallel.go  Scanner.ScanObjects: many objects on several workers
package trail
