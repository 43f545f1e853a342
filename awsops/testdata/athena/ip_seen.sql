SELECT account, region, eventsource, eventname,
  useridentity.arn AS principal_arn, useridentity.accesskeyid AS accesskeyid, sourceipaddress,
  count(*) AS events, min(eventtime) AS first_seen, max(eventtime) AS last_seen
FROM "cloudtrail_org"
WHERE "timestamp" BETWEEN '2026/11/19' AND '2026/11/23'
  AND eventtime BETWEEN '2026-11-20T09:30:00Z' AND '2026-11-22T11:30:00Z'
  AND sourceipaddress IN (?, ?, ?)
GROUP BY account, region, eventsource, eventname, useridentity.arn, useridentity.accesskeyid, sourceipaddress
ORDER BY events DESC, account, region, eventsource, eventname, principal_arn, accesskeyid, sourceipaddress
