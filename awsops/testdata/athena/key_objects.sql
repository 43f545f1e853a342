SELECT "$path" AS object, account, region, eventtime, eventid,
  useridentity.accesskeyid AS accesskeyid,
  CASE WHEN eventsource = 'iam.amazonaws.com' AND eventname = 'CreateAccessKey'
    THEN json_extract_scalar(responseelements, '$.accessKey.accessKeyId')
    ELSE json_extract_scalar(responseelements, '$.credentials.accessKeyId') END AS minted
FROM "cloudtrail_org"
WHERE "timestamp" BETWEEN '2026/11/19' AND '2026/11/23'
  AND eventtime BETWEEN '2026-11-20T09:30:00Z' AND '2026-11-22T11:30:00Z'
  AND account IN ('111111111111', '222222222222')
  AND (useridentity.accesskeyid IN (?, ?)
    OR CASE WHEN eventsource = 'iam.amazonaws.com' AND eventname = 'CreateAccessKey'
         THEN json_extract_scalar(responseelements, '$.accessKey.accessKeyId')
         ELSE json_extract_scalar(responseelements, '$.credentials.accessKeyId') END IN (?, ?))
ORDER BY eventtime, eventid
