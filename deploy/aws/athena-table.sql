-- keyleak's organisation trail table for Amazon Athena, as Athena DDL.
-- deploy/aws/athena.yaml creates the same table (and the workgroup) with
-- CloudFormation; use this instead when you create tables by hand. Replace
-- REPLACE-trail-bucket, REPLACE-org-id (o-…) and the account list, strip
-- these comments, and run it in the cloudtrail database. docs/athena.md.
--
-- Columns are AWS's current CloudTrail DDL (JsonSerDe with CloudTrailInputFormat,
-- docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html)
-- plus useridentity.sessioncontext.sourceidentity. Partitions are projected:
-- account and region (enum) and "timestamp" (yyyy/MM/dd, a string; always
-- double-quote it in queries).
CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_org (
    eventversion STRING,
    useridentity STRUCT<
        type: STRING,
        principalid: STRING,
        arn: STRING,
        accountid: STRING,
        invokedby: STRING,
        accesskeyid: STRING,
        username: STRING,
        onbehalfof: STRUCT<
            userid: STRING,
            identitystorearn: STRING>,
        sessioncontext: STRUCT<
            attributes: STRUCT<
                mfaauthenticated: STRING,
                creationdate: STRING>,
            sessionissuer: STRUCT<
                type: STRING,
                principalid: STRING,
                arn: STRING,
                accountid: STRING,
                username: STRING>,
            ec2roledelivery: STRING,
            webidfederationdata: STRUCT<
                federatedprovider: STRING,
                attributes: MAP<STRING,STRING>>,
            sourceidentity: STRING>>,
    eventtime STRING,
    eventsource STRING,
    eventname STRING,
    awsregion STRING,
    sourceipaddress STRING,
    useragent STRING,
    errorcode STRING,
    errormessage STRING,
    requestparameters STRING,
    responseelements STRING,
    additionaleventdata STRING,
    requestid STRING,
    eventid STRING,
    readonly STRING,
    resources ARRAY<STRUCT<
        arn: STRING,
        accountid: STRING,
        type: STRING>>,
    eventtype STRING,
    apiversion STRING,
    recipientaccountid STRING,
    serviceeventdetails STRING,
    sharedeventid STRING,
    vpcendpointid STRING,
    vpcendpointaccountid STRING,
    eventcategory STRING,
    addendum STRUCT<
        reason: STRING,
        updatedfields: STRING,
        originalrequestid: STRING,
        originaleventid: STRING>,
    sessioncredentialfromconsole STRING,
    edgedevicedetails STRING,
    tlsdetails STRUCT<
        tlsversion: STRING,
        ciphersuite: STRING,
        clientprovidedhostheader: STRING>
)
PARTITIONED BY (
    account STRING,
    region STRING,
    `timestamp` STRING
)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://REPLACE-trail-bucket/AWSLogs/REPLACE-org-id/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '111111111111,222222222222',
    'projection.region.type' = 'enum',
    'projection.region.values' = 'us-east-1,us-east-2,us-west-1,us-west-2,af-south-1,ap-east-1,ap-east-2,ap-south-1,ap-south-2,ap-southeast-1,ap-southeast-2,ap-southeast-3,ap-southeast-4,ap-southeast-5,ap-southeast-6,ap-southeast-7,ap-northeast-1,ap-northeast-2,ap-northeast-3,ca-central-1,ca-west-1,eu-central-1,eu-central-2,eu-west-1,eu-west-2,eu-west-3,eu-south-1,eu-south-2,eu-north-1,il-central-1,me-south-1,me-central-1,mx-central-1,sa-east-1',
    'projection.timestamp.type' = 'date',
    'projection.timestamp.format' = 'yyyy/MM/dd',
    'projection.timestamp.range' = '2020/01/01,NOW',
    'projection.timestamp.interval' = '1',
    'projection.timestamp.interval.unit' = 'DAYS',
    'storage.location.template' = 's3://REPLACE-trail-bucket/AWSLogs/REPLACE-org-id/${account}/CloudTrail/${region}/${timestamp}'
);
