import json
import boto3
import hugai

def handler(event, context):
    # Extract source code from CodePipeline
    s3 = boto3.client('s3')
    
    # Run HUG AI analysis
    analysis_result = hugai.analyze_deployment(
        source_location=event['source_location'],
        target_environment='staging'
    )
    
    # Store results for next stage
    result = {
        'quality_score': analysis_result.quality_score,
        'security_issues': analysis_result.security_issues,
        'deployment_risk': analysis_result.deployment_risk,
        'recommendations': analysis_result.recommendations
    }
    
    return {
        'statusCode': 200,
        'body': json.dumps(result)
    }
